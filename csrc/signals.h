/* core.trap_signals and core.caught_signal: SIGTERM and SIGHUP as the command line sees
 * Ctrl-C (see signals.c). */
#ifndef CLOUD_SIGNALS_H
#define CLOUD_SIGNALS_H

#include <lua.h>

/* Sets core.trap_signals (-> true, or nil and why) and core.caught_signal (-> name, number
 * of the first signal caught; nil before any) in the table at stack index core. */
void signals_lua_register(lua_State *L, int core);

#endif
