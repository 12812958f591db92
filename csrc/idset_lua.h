/* The Lua binding of idset.c: core.idset, core.checked_idset, and what core.job_outcomes
 * needs of a set. */
#ifndef CLOUD_IDSET_LUA_H
#define CLOUD_IDSET_LUA_H

#include "compat.h"
#include "idset.h"

/* Makes the set's metatable and sets core.idset and core.checked_idset in the table at
 * stack index core. */
void idset_lua_register(lua_State *L, int core);

/* Checks that the value at i is an open set (a caller's mistake, raised naming `where` and
 * `field`, NULL for the set a method was called on, when it is not); pushes its ids array
 * (the set reads ids from there until the caller pops it) and returns the set. */
idset *idset_lua_bind(lua_State *L, int i, const char *where, const char *field);

/* The member index of the string at stack index i (IDSET_NONE if not a member or not a
 * string), for a set bound by idset_lua_bind. */
uint32_t idset_lua_find(lua_State *L, const idset *s, int i);

/* The batch whose number (from set:batch) is the argument at i; raises naming `where` and
 * "batch" when it is not one. */
const idset_batch *idset_lua_checkbatch(lua_State *L, const idset *s, int i, const char *where);

#endif
