#ifndef CLOUD_SIGN_LUA_H
#define CLOUD_SIGN_LUA_H

#include <lua.h>

/* Sets core.sign and core.sign_for_sending, closures over their per-state scratch
 * (contexts and buffers), in the table at stack index core. */
void sign_lua_register(lua_State *L, int core);

#endif
