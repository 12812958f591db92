/* The metatable of a userdata type, made once per Lua state: `meta` holds its
 * metamethods (__gc, __close, __tostring, __len), `methods` become its __index. */
#ifndef CLOUD_CLASS_H
#define CLOUD_CLASS_H

#include "compat.h"

/* Leaves the metatable on the stack; returns 1 when it was made just now (so that a
 * caller can add more fields), 0 when it already existed. */
static inline int class_metatable(lua_State *L, const char *name, const luaL_Reg *meta,
                                  const luaL_Reg *methods) {
  if (!luaL_newmetatable(L, name)) return 0;
  luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  return 1;
}

#endif
