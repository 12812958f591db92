/* The one raise of a caller's mistake and the one shape of a failure (see result.h). */
#include <stdarg.h>

#include "result.h"

#define ERRORS_MODULE "cloud.errors"

/* Pushes cloud.errors' `argument`, or pushes nothing and returns 0.
 *
 * Why the C core asks the Lua module instead of building the table itself: the error's
 * shape (its fields, its metatable, its message, the caller's position found past the
 * library's frames) is Lua's policy, owned by cloud.errors alone; C only says where, which
 * field and what is wrong. Why it asks at the raise and not at load: loading the core does
 * no I/O and needs no Lua module (the signer is used alone, inside nginx or without the
 * Lua layer on the path), and the core may be loaded without lua/cloud/core.lua, so no
 * loader can be relied on to hand the constructor over. A module already loaded is taken
 * from package.loaded; else require is tried once per raise, protected, on a path that is
 * a caller's mistake anyway. Without it, result_argerror raises a string instead. */
static int push_argument(lua_State *L) {
  int top = lua_gettop(L);
  lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED"); /* package.loaded, in 5.1 and 5.4 */
  if (lua_istable(L, -1)) lua_getfield(L, -1, ERRORS_MODULE);
  else lua_pushnil(L);
  if (!lua_istable(L, -1)) {
    lua_settop(L, top);
    lua_getglobal(L, "require");
    lua_pushliteral(L, ERRORS_MODULE);
    if (!lua_isfunction(L, -2) || lua_pcall(L, 1, 1, 0) != 0) lua_pushnil(L);
  }
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "argument");
    if (lua_isfunction(L, -1)) {
      lua_replace(L, top + 1);
      lua_settop(L, top + 1);
      return 1;
    }
  }
  lua_settop(L, top);
  return 0;
}

/* Pushes "file:line: " of the first caller with a line (a C function has none, and a
 * tail call leaves no frame), or "": what cloud.errors finds, less its library's frames. */
static void push_position(lua_State *L) {
  lua_Debug ar;
  for (int level = 1; lua_getstack(L, level, &ar); level++) {
    lua_getinfo(L, "Sl", &ar);
    if (ar.currentline > 0) {
      lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
      return;
    }
  }
  lua_pushliteral(L, "");
}

/* The problem is on top of the stack. */
static int raise_argument(lua_State *L, const char *where, const char *field) {
  int problem = lua_gettop(L);
  luaL_checkstack(L, 8, "cloud.core: no stack to raise an argument error");
  if (push_argument(L)) {
    lua_pushstring(L, where);
    if (field) lua_pushstring(L, field);
    else lua_pushnil(L);
    lua_pushvalue(L, problem);
    lua_call(L, 3, 0); /* raises: errors.argument never returns */
    lua_settop(L, problem);
  }
  /* Without cloud.errors: the text an Error of kind argument shows, at the caller's line. */
  push_position(L);
  if (field) lua_pushfstring(L, "%s: option '%s' %s", where, field, lua_tostring(L, problem));
  else lua_pushfstring(L, "%s: %s", where, lua_tostring(L, problem));
  lua_concat(L, 2);
  return lua_error(L);
}

int result_argerror(lua_State *L, const char *where, const char *field, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  return raise_argument(L, where, field);
}

int result_fail(lua_State *L, int nextra, const char *fmt, ...) {
  luaL_checkstack(L, 2, "cloud.core: no stack for a result");
  lua_pushnil(L);
  lua_insert(L, -(nextra + 1));
  va_list ap;
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_insert(L, -(nextra + 1));
  return 2 + nextra;
}
