/* Every difference between Lua 5.1 (plain or LuaJIT 2.1) and 5.4 that the core
 * touches lives here, and nowhere else. */
#ifndef CLOUD_COMPAT_H
#define CLOUD_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM == 501
#include <limits.h>
#include <stdint.h>

#define lua_rawlen(L, i) lua_objlen((L), (i))

/* 5.1 indexes arrays with an int, 5.4 with the lua_Integer the core passes. The core's
 * indexes are positions in Lua tables (whose sizes 5.1 keeps in an int) or in id sets (at
 * most IDSET_MAX), so they fit; one that did not would be a bug, and raises, never wraps. */
static inline int compat_index(lua_State *L, lua_Integer i) {
  if (i < INT_MIN || i > INT_MAX) luaL_error(L, "cloud.core: array index out of range");
  return (int)i;
}
#define lua_rawgeti(L, t, i) (lua_rawgeti)((L), (t), compat_index((L), (i)))
#define lua_rawseti(L, t, i) (lua_rawseti)((L), (t), compat_index((L), (i)))

/* LuaJIT 2.1 already has these (it defines luaL_newlib); plain 5.1 does not. */
#ifndef luaL_newlib
static inline void luaL_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
  luaL_checkstack(L, nup, "too many upvalues");
  for (; l->name; l++) {
    for (int i = 0; i < nup; i++) lua_pushvalue(L, -nup);
    lua_pushcclosure(L, l->func, nup);
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}

static inline void luaL_setmetatable(lua_State *L, const char *tname) {
  luaL_getmetatable(L, tname);
  lua_setmetatable(L, -2);
}

static inline void *luaL_testudata(lua_State *L, int i, const char *tname) {
  void *p = lua_touserdata(L, i);
  if (!p || !lua_getmetatable(L, i)) return NULL;
  luaL_getmetatable(L, tname);
  int same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return same ? p : NULL;
}

#define luaL_newlib(L, l) (lua_newtable(L), luaL_setfuncs((L), (l), 0))
#endif
#endif

/* One Lua value tied to a userdata: its environment table in 5.1, its user value in 5.4
 * (lua_newuserdata makes one). In 5.1 the value must be a table. */
#if LUA_VERSION_NUM == 501
#define compat_setuservalue(L, i) lua_setfenv((L), (i))
#define compat_getuservalue(L, i) lua_getfenv((L), (i))
#else
#define compat_setuservalue(L, i) lua_setiuservalue((L), (i), 1)
#define compat_getuservalue(L, i) lua_getiuservalue((L), (i), 1)
#endif

/* 1 when the value at i is a number with no fractional part that fits a long long;
 * *out receives it. Lua 5.4 integers, and integral floats in any version. */
static inline int compat_tointegral(lua_State *L, int i, long long *out) {
#if LUA_VERSION_NUM >= 503
  if (lua_isinteger(L, i)) {
    *out = (long long)lua_tointeger(L, i);
    return 1;
  }
#endif
  lua_Number n = lua_tonumber(L, i);
  if (n != n || n < -9223372036854775808.0 || n >= 9223372036854775808.0) return 0;
  long long v = (long long)n;
  if ((lua_Number)v != n) return 0;
  *out = v;
  return 1;
}

#endif
