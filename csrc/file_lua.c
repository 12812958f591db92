/* core.create_file(path) -> cloud.core.file, core.read_file(path, max_bytes) -> string: the
 * binding of file.c. A failure of the world (the file exists, the disk is full) returns
 * nil, "<path>: <strerror>", errno; a caller's mistake (a path that is no string or holds
 * a NUL) raises. A reason holds the path and the system's words, nothing else. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "class.h"
#include "compat.h"
#include "file.h"
#include "file_lua.h"

#define FILE_MT "cloud.core.file"
#define SCRATCH_MT "cloud.core.file_read"

typedef struct {
  int fd;      /* -1 once closed (or never opened) */
  char path[]; /* for the reasons of later failures */
} file_ud;

/* The path argument at i: a string (a number is refused, not converted) without a NUL. */
static const char *check_path(lua_State *L, int i, size_t *len) {
  if (lua_type(L, i) != LUA_TSTRING)
    luaL_argerror(L, i, lua_pushfstring(L, "string expected, got %s", luaL_typename(L, i)));
  const char *p = lua_tolstring(L, i, len);
  if (strlen(p) != *len) luaL_argerror(L, i, "the path holds a NUL byte");
  return p;
}

/* nil, "<path>: <strerror>", errno */
static int fail(lua_State *L, const char *path, int err) {
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", path, strerror(err));
  lua_pushinteger(L, err);
  return 3;
}

/* core.create_file(path) -> file, or nil, reason, errno. */
static int create_file(lua_State *L) {
  size_t n;
  const char *path = check_path(L, 1, &n);
  /* The userdata first, closed, with its __gc: once the file is open, nothing can raise
   * before it is returned, and a raise here leaves no descriptor behind. */
  file_ud *u = lua_newuserdata(L, sizeof *u + n + 1);
  u->fd = -1;
  memcpy(u->path, path, n + 1);
  luaL_setmetatable(L, FILE_MT);
  int err = file_create(path, &u->fd);
  if (err) return fail(L, path, err);
  return 1;
}

/* file:write(s [, durable]) -> true, or nil, reason, errno; nil, "closed", nil once closed. */
static int file_write(lua_State *L) {
  file_ud *u = luaL_checkudata(L, 1, FILE_MT);
  size_t n;
  const char *s = luaL_checklstring(L, 2, &n);
  int durable = lua_toboolean(L, 3);
  if (u->fd < 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "closed");
    lua_pushnil(L);
    return 3;
  }
  int err = file_write_all(u->fd, s, n);
  if (!err && durable) err = file_sync(u->fd);
  if (err) return fail(L, u->path, err);
  lua_pushboolean(L, 1);
  return 1;
}

/* file:close() -> true, or nil, reason, errno (a write the kernel could not finish); again
 * true. __gc and __close are the same, their results unused. */
static int file_close_lua(lua_State *L) {
  file_ud *u = luaL_checkudata(L, 1, FILE_MT);
  int err = file_close(&u->fd);
  if (err) return fail(L, u->path, err);
  lua_pushboolean(L, 1);
  return 1;
}

static int file_tostring(lua_State *L) {
  file_ud *u = luaL_checkudata(L, 1, FILE_MT);
  lua_pushfstring(L, u->fd < 0 ? "cloud.core.file %s (closed)" : "cloud.core.file %s", u->path);
  return 1;
}

/* What read_file reads into: a userdata, so that a raise while the bytes become a string
 * (memory) still frees them, at its __gc. */
static int scratch_gc(lua_State *L) {
  cbuf_free(luaL_checkudata(L, 1, SCRATCH_MT));
  return 0;
}

/* core.read_file(path, max_bytes) -> string, or nil, reason, errno (nil for a file that is
 * not regular or too large). */
static int read_file(lua_State *L) {
  size_t n;
  const char *path = check_path(L, 1, &n);
  lua_Integer max = compat_checkinteger(L, 2);
  if (max <= 0) return luaL_argerror(L, 2, "max_bytes must be a positive integer");
  /* A bound beyond memory is no bound: cbuf fails first, with ENOMEM. */
  size_t limit = (uintmax_t)max < SIZE_MAX ? (size_t)max : SIZE_MAX - 1;
  cbuf *b = lua_newuserdata(L, sizeof *b);
  cbuf_init(b);
  luaL_setmetatable(L, SCRATCH_MT);
  const char *kind;
  int err = file_read(path, limit, b, &kind);
  if (!err) {
    lua_pushlstring(L, b->len ? b->data : "", b->len);
    cbuf_free(b);
    return 1;
  }
  if (err > 0) return fail(L, path, err);
  lua_pushnil(L);
  if (err == FILE_NOT_REGULAR) {
    lua_pushfstring(L, "%s is not a regular file (%s)", path, kind);
  } else {
    char num[32];
    snprintf(num, sizeof num, "%lld", (long long)max);
    lua_pushfstring(L, "%s is larger than %s bytes", path, num);
  }
  lua_pushnil(L);
  return 3;
}

void file_lua_open(lua_State *L) {
  static const luaL_Reg meta[] = {{"__gc", file_close_lua}, {"__close", file_close_lua},
                                  {"__tostring", file_tostring}, {NULL, NULL}};
  static const luaL_Reg methods[] = {{"write", file_write}, {"close", file_close_lua}, {NULL, NULL}};
  static const luaL_Reg scratch_meta[] = {{"__gc", scratch_gc}, {NULL, NULL}};
  static const luaL_Reg none[] = {{NULL, NULL}};
  class_metatable(L, FILE_MT, meta, methods);
  lua_pop(L, 1);
  class_metatable(L, SCRATCH_MT, scratch_meta, none);
  lua_pop(L, 1);
  lua_pushcfunction(L, create_file);
  lua_setfield(L, -2, "create_file");
  lua_pushcfunction(L, read_file);
  lua_setfield(L, -2, "read_file");
}
