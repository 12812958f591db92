/* core.create_file(path) -> cloud.core.file, core.read_file(path, max_bytes) -> string,
 * core.lock_file(path [, note]) -> cloud.core.lock or false (held elsewhere),
 * core.make_dir(path), core.replace_file(from, to): the
 * binding of file.c. A failure of the world (the file exists, the disk is full) returns
 * nil, "<path>: <strerror>", errno; a caller's mistake (a path that is no string or holds
 * a NUL) raises the argument error. A reason holds the path and the system's words,
 * nothing else. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "class.h"
#include "compat.h"
#include "file.h"
#include "file_lua.h"
#include "result.h"

#define FILE_MT "cloud.core.file"
#define SCRATCH_MT "cloud.core.file_read"
#define LOCK_MT "cloud.core.lock"
/* The name of a method in its errors: METHOD("write") is "cloud.core.file:write". */
#define METHOD(name) FILE_MT ":" name

typedef struct {
  int fd;      /* -1 once closed (or never opened) */
  char path[]; /* for the reasons of later failures */
} file_ud;

/* The path argument at i: a string (a number is refused, not converted) without a NUL. */
static const char *check_path(lua_State *L, int i, const char *where, size_t *len) {
  const char *p = result_checkstring(L, i, where, "path", len);
  if (strlen(p) != *len) result_argerror(L, where, "path", "holds a NUL byte");
  return p;
}

/* nil, "<path>: <strerror>", errno */
static int fail(lua_State *L, const char *path, int err) {
  lua_pushinteger(L, err);
  return result_fail(L, 1, "%s: %s", path, strerror(err));
}

/* core.create_file(path) -> file, or nil, reason, errno. */
static int file_lua_create_file(lua_State *L) {
  size_t n;
  const char *path = check_path(L, 1, "cloud.core.create_file", &n);
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
static int file_lua_write(lua_State *L) {
  file_ud *u = result_checkudata(L, 1, FILE_MT, METHOD("write"), NULL);
  size_t n;
  if (lua_type(L, 2) != LUA_TNUMBER) result_checkstring(L, 2, METHOD("write"), "s", NULL);
  const char *s = lua_tolstring(L, 2, &n); /* a number is written as its string, as file:write does */
  int durable = lua_toboolean(L, 3);
  if (u->fd < 0) {
    lua_pushnil(L);
    return result_fail(L, 1, "closed");
  }
  int err = file_write_all(u->fd, s, n);
  if (!err && durable) err = file_sync(u->fd);
  if (err) return fail(L, u->path, err);
  lua_pushboolean(L, 1);
  return 1;
}

/* file:close() -> true, or nil, reason, errno (a write the kernel could not finish); again
 * true. __gc and __close are the same, their results unused. */
static int file_lua_close(lua_State *L) {
  file_ud *u = result_checkudata(L, 1, FILE_MT, METHOD("close"), NULL);
  int err = file_close(&u->fd);
  if (err) return fail(L, u->path, err);
  lua_pushboolean(L, 1);
  return 1;
}

static int file_lua_tostring(lua_State *L) {
  file_ud *u = result_checkudata(L, 1, FILE_MT, METHOD("__tostring"), NULL);
  lua_pushfstring(L, u->fd < 0 ? "cloud.core.file %s (closed)" : "cloud.core.file %s", u->path);
  return 1;
}

/* What read_file reads into: a userdata, so that a raise while the bytes become a string
 * (memory) still frees them, at its __gc. */
static int file_lua_scratch_gc(lua_State *L) {
  cbuf_free(result_checkudata(L, 1, SCRATCH_MT, SCRATCH_MT ":__gc", NULL));
  return 0;
}

/* core.read_file(path, max_bytes) -> string, or nil, reason, errno (nil for a file that is
 * not regular or too large). */
static int file_lua_read_file(lua_State *L) {
  size_t n;
  const char *path = check_path(L, 1, "cloud.core.read_file", &n);
  long long max = result_checkwhole(L, 2, "cloud.core.read_file", "max_bytes");
  if (max <= 0) return result_argerror(L, "cloud.core.read_file", "max_bytes", "must be a positive integer");
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
  lua_pushnil(L); /* no errno: the system did not refuse */
  if (err == FILE_NOT_REGULAR) return result_fail(L, 1, "%s is not a regular file (%s)", path, kind);
  char num[32]; /* lua_pushfstring has no long long format in 5.1 */
  snprintf(num, sizeof num, "%lld", max);
  return result_fail(L, 1, "%s is larger than %s bytes", path, num);
}

/* core.make_dir(path) -> true (made, or a directory already), or nil, reason, errno. */
static int file_lua_make_dir(lua_State *L) {
  size_t n;
  const char *path = check_path(L, 1, "cloud.core.make_dir", &n);
  int err = file_make_dir(path);
  if (err) return fail(L, path, err);
  lua_pushboolean(L, 1);
  return 1;
}

/* core.replace_file(from, to) -> true, or nil, reason, errno (the reason names `to`). */
static int file_lua_replace_file(lua_State *L) {
  size_t n;
  const char *from = check_path(L, 1, "cloud.core.replace_file", &n);
  const char *to = check_path(L, 2, "cloud.core.replace_file", &n);
  int err = file_replace(from, to);
  if (err) return fail(L, to, err);
  lua_pushboolean(L, 1);
  return 1;
}

/* A lock taken by core.lock_file: its descriptor, and the path for tostring. */
typedef struct {
  int fd; /* -1 once released */
  char path[];
} lock_ud;

/* core.lock_file(path [, note]) -> lock, or false when another open file holds it, or nil,
 * reason, errno. Never waits. */
static int file_lua_lock_file(lua_State *L) {
  size_t n, note_len = 0;
  const char *path = check_path(L, 1, "cloud.core.lock_file", &n);
  const char *note = NULL;
  if (!lua_isnoneornil(L, 2)) note = result_checkstring(L, 2, "cloud.core.lock_file", "note", &note_len);
  /* The userdata first, as for create_file: nothing raises once the lock is taken. */
  lock_ud *u = lua_newuserdata(L, sizeof *u + n + 1);
  u->fd = -1;
  memcpy(u->path, path, n + 1);
  luaL_setmetatable(L, LOCK_MT);
  int held;
  int err = file_lock(path, note, note_len, &u->fd, &held);
  if (err == FILE_NOT_REGULAR) {
    lua_pushnil(L);
    return result_fail(L, 1, "%s is not a regular file", path);
  }
  if (err) return fail(L, path, err);
  if (held) {
    lua_pushboolean(L, 0);
    return 1;
  }
  return 1;
}

/* lock:release() -> true; again true. __gc and __close are the same. */
static int file_lua_lock_release(lua_State *L) {
  lock_ud *u = result_checkudata(L, 1, LOCK_MT, LOCK_MT ":release", NULL);
  file_close(&u->fd); /* nothing was written since the note: a close error loses nothing */
  lua_pushboolean(L, 1);
  return 1;
}

static int file_lua_lock_tostring(lua_State *L) {
  lock_ud *u = result_checkudata(L, 1, LOCK_MT, LOCK_MT ":__tostring", NULL);
  lua_pushfstring(L, u->fd < 0 ? "cloud.core.lock %s (released)" : "cloud.core.lock %s", u->path);
  return 1;
}

void file_lua_register(lua_State *L, int core) {
  static const luaL_Reg meta[] = {{"__gc", file_lua_close}, {"__close", file_lua_close},
                                  {"__tostring", file_lua_tostring}, {NULL, NULL}};
  static const luaL_Reg methods[] = {{"write", file_lua_write}, {"close", file_lua_close}, {NULL, NULL}};
  static const luaL_Reg scratch_meta[] = {{"__gc", file_lua_scratch_gc}, {NULL, NULL}};
  static const luaL_Reg none[] = {{NULL, NULL}};
  static const luaL_Reg lock_meta[] = {{"__gc", file_lua_lock_release}, {"__close", file_lua_lock_release},
                                       {"__tostring", file_lua_lock_tostring}, {NULL, NULL}};
  static const luaL_Reg lock_methods[] = {{"release", file_lua_lock_release}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {{"create_file", file_lua_create_file}, {"read_file", file_lua_read_file},
                                   {"lock_file", file_lua_lock_file}, {"make_dir", file_lua_make_dir},
                                   {"replace_file", file_lua_replace_file}, {NULL, NULL}};
  class_metatable(L, FILE_MT, meta, methods);
  lua_pop(L, 1);
  class_metatable(L, SCRATCH_MT, scratch_meta, none);
  lua_pop(L, 1);
  class_metatable(L, LOCK_MT, lock_meta, lock_methods);
  lua_pop(L, 1);
  class_functions(L, core, funcs);
}
