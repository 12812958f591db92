/* How every binding of the core fails: one shape for all (luv's luv_error and luv_result
 * in src/util.c; lauxlib's luaL_argerror and its luaL_check* family).
 *
 * - A caller's mistake (an argument or option of the wrong type or value, a closed object)
 *   raises, through result_argerror only, the error object cloud.errors makes for one: an
 *   Error of kind "argument", code "cloud.argument", with `where` (the function called,
 *   "cloud.core.sign", "cloud.core.idset:mark"), `field` (the argument or option:
 *   "sk", "ids[3]", "query.limit"; NULL when the whole call is wrong) and `problem`. A
 *   program decides by kind and field, for the C core's mistakes as for the Lua layer's.
 * - A failure of the world (a file that exists, a full disk, an answer that is no job)
 *   returns nil, the message and any extra values, through result_fail only. The arity of
 *   a result never depends on an argument's value.
 * - Resources failing under us (memory, a crypto library that cannot start) raise a plain
 *   message with luaL_error, as Lua's own memory errors do: no caller's fix exists.
 *
 * How the functions are named and registered is class.h's. */
#ifndef CLOUD_RESULT_H
#define CLOUD_RESULT_H

#include "compat.h"

#if defined(__GNUC__)
#define RESULT_FORMAT(f, a) __attribute__((format(printf, f, a)))
#else
#define RESULT_FORMAT(f, a)
#endif

/* Raises a caller's mistake: cloud.errors' argument(where, field, problem), the problem
 * formatted as lua_pushfstring formats (%s, %d, %f, %%). Never returns. */
int result_argerror(lua_State *L, const char *where, const char *field, const char *fmt, ...)
    RESULT_FORMAT(4, 5);

/* A failure of the world: pushes nil and the message below the `nextra` values on top of
 * the stack (an errno, say) and returns 2 + nextra, for `return result_fail(...)`. */
int result_fail(lua_State *L, int nextra, const char *fmt, ...) RESULT_FORMAT(3, 4);

/* The type of the value at i, for "must be ..., not <type>": "nil" for an absent argument. */
static inline const char *result_typename(lua_State *L, int i) {
  return lua_type(L, i) == LUA_TNONE ? "nil" : luaL_typename(L, i);
}

/* The checks, each raising through result_argerror: the argument at i must be ... */

/* ... a table. */
static inline void result_checktable(lua_State *L, int i, const char *where, const char *field) {
  if (lua_type(L, i) != LUA_TTABLE)
    result_argerror(L, where, field, "must be a table, not %s", result_typename(L, i));
}

/* ... a string (a number is refused, not converted). */
static inline const char *result_checkstring(lua_State *L, int i, const char *where, const char *field,
                                             size_t *len) {
  if (lua_type(L, i) != LUA_TSTRING)
    result_argerror(L, where, field, "must be a string, not %s", result_typename(L, i));
  return lua_tolstring(L, i, len);
}

/* ... a whole number that fits a long long (never a NaN or 1e300 cast). */
static inline long long result_checkwhole(lua_State *L, int i, const char *where, const char *field) {
  long long v = 0;
  if (lua_type(L, i) != LUA_TNUMBER || !compat_tointegral(L, i, &v))
    result_argerror(L, where, field, "must be a whole number");
  return v;
}

/* ... a userdata of type `tname`: the object a method was called on (`field` NULL), or an
 * argument. */
static inline void *result_checkudata(lua_State *L, int i, const char *tname, const char *where,
                                      const char *field) {
  void *p = luaL_testudata(L, i, tname);
  if (!p && field) result_argerror(L, where, field, "must be a %s, not %s", tname, result_typename(L, i));
  if (!p) result_argerror(L, where, NULL, "call it with ':' on a %s", tname);
  return p;
}

#endif
