/* cloud.core.file (see file_lua.c), core.create_file and core.read_file. */
#ifndef CLOUD_FILE_LUA_H
#define CLOUD_FILE_LUA_H

#include <lua.h>

/* Makes the file metatable and sets create_file and read_file in the table at stack index
 * core (the module's). */
void file_lua_register(lua_State *L, int core);

#endif
