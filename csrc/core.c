/* luaopen_cloud_core: the C core's entry point. Registers the signer, secrets, the
 * HTTP engine, the id set, the job reader, record files, clock helpers that plain Lua
 * lacks and the command line's signal trap. Does no I/O and traps nothing. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "compat.h"
#include "body_lua.h"
#include "file_lua.h"
#include "http_lua.h"
#include "idset_lua.h"
#include "jobscan_lua.h"
#include "keyscan_lua.h"
#include "secret.h"
#include "sign_lua.h"
#include "signals.h"

#define CLOUD_CORE_VERSION "0.1.0"

/* core.now(): seconds on a monotonic clock, for timeouts and backoff. */
static int core_now(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}

/* core.time(): wall-clock seconds since the epoch, with fractions. */
static int core_time(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}

/* core.sleep(seconds): blocks the thread; outside nginx only. */
static int core_sleep(lua_State *L) {
  double s = (double)luaL_checknumber(L, 1);
  if (s <= 0) return 0;
  /* What tv_sec (a time_t, 32 or 64 bits) holds; NaN and infinity fail too. */
  double limit = sizeof(time_t) >= 8 ? 9223372036854775808.0 : 2147483648.0;
  if (!(s < limit)) return luaL_argerror(L, 1, "seconds must be a number, not NaN or too large");
  struct timespec ts;
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9); /* in [0, 1e9) */
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
  return 0;
}

/* core.file_mode(path) -> permission bits (an integer), kind ("file", "directory" or
 * "other"); nil, reason when stat fails. For the credentials file: its size and type are
 * checked before reading, and a key readable by others is worth a warning. */
static int core_file_mode(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  if (stat(path, &st) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, strerror(errno));
    return 2;
  }
  lua_pushinteger(L, (lua_Integer)(st.st_mode & 07777));
  lua_pushstring(L, S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "directory" : "other");
  lua_pushinteger(L, (lua_Integer)st.st_size);
  return 3;
}

/* The module's entry point, which require finds by this name. */
int luaopen_cloud_core(lua_State *L);

int luaopen_cloud_core(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"http", http_lua_new},
      {"now", core_now},    {"time", core_time},    {"sleep", core_sleep},
      {"file_mode", core_file_mode},
      {"trap_signals", signals_trap}, {"caught_signal", signals_caught},
      {NULL, NULL}};
  http_lua_open(L);
  luaL_newlib(L, funcs);
  int core = lua_gettop(L);
  secret_lua_register(L, core); /* before sign: the signer keeps the secret metatable */
  sign_lua_register(L, core);
  jobscan_lua_register(L, core);
  keyscan_lua_push(L);
  lua_setfield(L, -2, "security_key");
  idset_lua_register(L, core);
  body_lua_open(L);
  file_lua_open(L);
  lua_pushliteral(L, CLOUD_CORE_VERSION);
  lua_setfield(L, -2, "version");
  return 1;
}
