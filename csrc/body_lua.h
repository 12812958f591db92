/* cloud.core.body, bytes in C memory (see body_lua.c), core.stop_body and core.start_body. */
#ifndef CLOUD_BODY_LUA_H
#define CLOUD_BODY_LUA_H

#include <stddef.h>
#include <lua.h>
#include "buf.h"

/* Makes the body metatable and sets the constructors stop_body and start_body in the
 * table at stack index core (the module's). */
void body_lua_register(lua_State *L, int core);

/* Pushes a new body that takes over *from's bytes (*from is left empty). May raise
 * (memory) before taking them: *from then still belongs to the caller. */
void body_lua_push(lua_State *L, cbuf *from);

/* The bytes of a string or of a body at index i; NULL if it is neither. */
const char *body_lua_bytes(lua_State *L, int i, size_t *len);

#endif
