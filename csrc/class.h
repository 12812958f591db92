/* How a binding file gives the module its functions and types: one way for all.
 *
 * Names: every C function Lua calls is <file>_lua_<name>, after the name Lua knows it by
 * (idset_lua_mark is set:mark, idset_lua_close its close and __gc). Registration: each
 * binding file has one <file>_lua_register(L, core), which makes its metatables with
 * class_metatable and sets its functions in the module table at stack index `core` with
 * class_functions (or lua_setfield, for a closure over its own state); luaopen_cloud_core
 * calls each once. How the functions fail is result.h's. */
#ifndef CLOUD_CLASS_H
#define CLOUD_CLASS_H

#include "compat.h"

/* The metatable of a userdata type, made once per Lua state: `meta` holds its metamethods
 * (__gc, __close, __tostring, __len), `methods` become its __index. Leaves the metatable on
 * the stack; returns 1 when it was made just now (so that a caller can add more fields), 0
 * when it already existed. */
static inline int class_metatable(lua_State *L, const char *name, const luaL_Reg *meta,
                                  const luaL_Reg *methods) {
  if (!luaL_newmetatable(L, name)) return 0;
  luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  return 1;
}

/* Sets each of `funcs` in the table at stack index t (an absolute index: the module's). */
static inline void class_functions(lua_State *L, int t, const luaL_Reg *funcs) {
  for (; funcs->name; funcs++) {
    lua_pushcfunction(L, funcs->func);
    lua_setfield(L, t, funcs->name);
  }
}

#endif
