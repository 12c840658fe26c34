/*
 * err.h — kith's one error table.
 *
 * Every kith function that can fail returns 0 or one of the negative codes below;
 * kith_strerror() turns a code into a short sentence. LMDB and system errors are
 * mapped to these codes at the boundary where they enter (see core/store.c), so a
 * caller never has to know which library failed.
 */
#ifndef KITH_ERR_H
#define KITH_ERR_H

#define KITH_ERRORS(X)                                                                 \
  X(NOTFOUND, -1001, "no such record")                                                 \
  X(BADMSG, -1002, "malformed data")                                                   \
  X(AMBIGUOUS, -1003, "id prefix matches more than one record")                        \
  X(NOSTORE, -1004, "no kith store here")                                              \
  X(EXISTS, -1005, "a kith store already exists here")                                 \
  X(NEWER, -1006, "store was written by a newer kith")                                 \
  X(FUTURE, -1007, "change is stamped too far in the future")                          \
  X(FULL, -1008, "store is full (no space left)")                                      \
  X(IO, -1009, "input/output error")                                                   \
  X(NOMEM, -1010, "out of memory")                                                     \
  X(INVAL, -1011, "invalid argument")                                                  \
  X(BADUTF8, -1012, "text is not valid UTF-8")                                         \
  X(TOOBIG, -1013, "value is too large")                                               \
  X(UNKFIELD, -1014, "unknown field")                                                  \
  X(READONLY, -1015, "store is read-only")                                             \
  X(BUSY, -1016, "store is busy")                                                      \
  X(CORRUPT, -1017, "store is corrupt")                                                \
  X(DELETED, -1018, "record was deleted")                                              \
  X(VERSION, -1019, "peer speaks an incompatible kith version")                        \
  X(NOTKITH, -1020, "not a kith peer")                                                 \
  X(UNAVAIL, -1021, "peer unavailable")                                                \
  X(TIMEDOUT, -1022, "peer stopped answering")                                         \
  X(CLOSED, -1023, "peer closed the connection")                                       \
  X(STALLED, -1024, "peer stopped reading")                                            \
  X(PROTO, -1025, "protocol error")                                                    \
  X(ADDRINUSE, -1026, "address already in use")                                        \
  X(REFUSED, -1027, "refused by the peer")                                             \
  X(USED, -1028, "invite code already used")                                           \
  X(EXPIRED, -1029, "invite code expired")

enum {
#define KITH__ERR_ENUM(name, code, text) KITH_E##name = (code),
  KITH_ERRORS(KITH__ERR_ENUM)
#undef KITH__ERR_ENUM
};

/* A short sentence for code; for unknown codes, "unknown error". Can't fail. */
const char *kith_strerror(int code);

#if defined(__GNUC__)
#define KITH_MUST_CHECK __attribute__((warn_unused_result))
#else
#define KITH_MUST_CHECK
#endif

#endif
