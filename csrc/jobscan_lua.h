#ifndef CLOUD_JOBSCAN_LUA_H
#define CLOUD_JOBSCAN_LUA_H

#include <lua.h>

/* Sets core.job_outcomes, a closure over its per-state scratch (the parse buffers), in the
 * table at stack index core. */
void jobscan_lua_register(lua_State *L, int core);

#endif
