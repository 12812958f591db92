/* core.trap_signals and core.caught_signal: SIGTERM and SIGHUP as the command line sees
 * Ctrl-C (see signals.c). */
#ifndef CLOUD_SIGNALS_H
#define CLOUD_SIGNALS_H

#include <lua.h>

/* core.trap_signals() -> true, or nil and why */
int signals_trap(lua_State *L);
/* core.caught_signal() -> name, number of the first signal caught; nil before any */
int signals_caught(lua_State *L);

#endif
