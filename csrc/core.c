/* luaopen_cloud_core: the C core's entry point. Registers the signer, secrets, the
 * HTTP engine, the id set, the job reader, record files, clock helpers that plain Lua
 * lacks and the command line's signal trap, each binding file through its one
 * <file>_lua_register (class.h). Does no I/O and traps nothing. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "body_lua.h"
#include "class.h"
#include "compat.h"
#include "file_lua.h"
#include "http_lua.h"
#include "idset_lua.h"
#include "jobscan_lua.h"
#include "keyscan_lua.h"
#include "result.h"
#include "secret.h"
#include "sign_lua.h"
#include "signals.h"

#define CLOUD_CORE_VERSION "0.1.0"

/* core.now(): seconds on a monotonic clock, for timeouts and backoff. */
static int core_lua_now(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}

/* core.time(): wall-clock seconds since the epoch, with fractions. */
static int core_lua_time(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}

/* core.sleep(seconds): blocks the thread; outside nginx only. */
static int core_lua_sleep(lua_State *L) {
  if (lua_type(L, 1) != LUA_TNUMBER)
    return result_argerror(L, "cloud.core.sleep", "seconds", "must be a number, not %s", result_typename(L, 1));
  double s = (double)lua_tonumber(L, 1);
  if (s <= 0) return 0;
  /* What tv_sec (a time_t, 32 or 64 bits) holds; NaN and infinity fail too. */
  double limit = sizeof(time_t) >= 8 ? 9223372036854775808.0 : 2147483648.0;
  if (!(s < limit))
    return result_argerror(L, "cloud.core.sleep", "seconds", "must be a number, not NaN or too large");
  struct timespec ts;
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9); /* in [0, 1e9) */
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
  return 0;
}

/* core.file_mode(path) -> permission bits (an integer), kind ("file", "directory" or
 * "other"), size; nil, reason when stat fails. For the credentials file: its size and type
 * are checked before reading, and a key readable by others is worth a warning. */
static int core_lua_file_mode(lua_State *L) {
  const char *path = result_checkstring(L, 1, "cloud.core.file_mode", "path", NULL);
  struct stat st;
  if (stat(path, &st) != 0) return result_fail(L, 0, "%s", strerror(errno));
  lua_pushinteger(L, (lua_Integer)(st.st_mode & 07777));
  lua_pushstring(L, S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "directory" : "other");
  lua_pushinteger(L, (lua_Integer)st.st_size);
  return 3;
}

static void core_lua_register(lua_State *L, int core) {
  static const luaL_Reg funcs[] = {{"now", core_lua_now}, {"time", core_lua_time}, {"sleep", core_lua_sleep},
                                   {"file_mode", core_lua_file_mode}, {NULL, NULL}};
  class_functions(L, core, funcs);
  lua_pushliteral(L, CLOUD_CORE_VERSION);
  lua_setfield(L, core, "version");
}

/* The module's entry point, which require finds by this name. */
int luaopen_cloud_core(lua_State *L);

int luaopen_cloud_core(lua_State *L) {
  lua_newtable(L);
  int core = lua_gettop(L);
  core_lua_register(L, core);
  secret_lua_register(L, core); /* before sign: the signer keeps the secret metatable */
  sign_lua_register(L, core);
  http_lua_register(L, core);
  body_lua_register(L, core);
  idset_lua_register(L, core);
  jobscan_lua_register(L, core);
  keyscan_lua_register(L, core);
  file_lua_register(L, core);
  signals_lua_register(L, core);
  lua_settop(L, core);
  return 1;
}
