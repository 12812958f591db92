#ifndef CLOUD_HTTP_LUA_H
#define CLOUD_HTTP_LUA_H

#include <lua.h>

void http_lua_open(lua_State *L);
int http_lua_new(lua_State *L);


#endif
