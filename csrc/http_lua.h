#ifndef CLOUD_HTTP_LUA_H
#define CLOUD_HTTP_LUA_H

#include <stddef.h>
#include <lua.h>

void http_lua_open(lua_State *L);
int http_lua_new(lua_State *L);
/* The bytes of a string or of a cloud.core.body at index i (NULL if neither). */
const char *http_lua_bytes(lua_State *L, int i, size_t *len);

#endif
