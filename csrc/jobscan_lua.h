#ifndef CLOUD_JOBSCAN_LUA_H
#define CLOUD_JOBSCAN_LUA_H

#include <lua.h>

/* Pushes core.job_outcomes: a closure over its per-state scratch (the parse buffers). */
void jobscan_lua_push(lua_State *L);

#endif
