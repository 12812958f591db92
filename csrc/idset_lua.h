/* The Lua binding of idset.c: core.idset, and what core.job_outcomes needs of a set. */
#ifndef CLOUD_IDSET_LUA_H
#define CLOUD_IDSET_LUA_H

#include "compat.h"
#include "idset.h"

/* Registers the set's metatable and pushes the constructor, core.idset. */
void idset_lua_open(lua_State *L);

/* Checks that the value at i is an open set; pushes its ids array (the set reads ids
 * from there until the caller pops it) and returns the set. */
idset *idset_lua_bind(lua_State *L, int i);

/* The member index of the string at stack index i (IDSET_NONE if not a member or not a
 * string), for a set bound by idset_lua_bind. */
uint32_t idset_lua_find(lua_State *L, const idset *s, int i);

/* The batch whose number (from set:batch) is the argument at i; raises when it is not one. */
const idset_batch *idset_lua_checkbatch(lua_State *L, const idset *s, int i);

#endif
