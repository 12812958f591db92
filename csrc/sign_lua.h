#ifndef CLOUD_SIGN_LUA_H
#define CLOUD_SIGN_LUA_H

#include <lua.h>

void sign_lua_open(lua_State *L);
int sign_lua(lua_State *L);

#endif
