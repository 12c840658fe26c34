/*
 * mp.h — helpers around msgpack-c for kith's decoders and encoders.
 *
 * msgpack-c allocates a container's slots from the count in its header before it
 * reads the elements, so a 5-byte message can ask for gigabytes. kith_mp_check walks
 * the message first and refuses any container whose count exceeds the bytes left
 * (each element needs at least one), any nesting deeper than max_depth, and any
 * truncated item. Every decoder of peer or file input calls it before unpacking.
 */
#ifndef KITH_MP_H
#define KITH_MP_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

/* 0 if buf holds exactly one well-bounded msgpack item, else KITH_EBADMSG. */
int kith_mp_check(const uint8_t *buf, size_t len, int max_depth);

/* Unpacks buf (after kith_mp_check) into u; the caller calls
 * msgpack_unpacked_destroy(u) in every case. 0 or KITH_EBADMSG. */
int kith_mp_unpack(const uint8_t *buf, size_t len, int max_depth, msgpack_unpacked *u);

/* A caller's fixed buffer for msgpack_packer_init(&pk, &fb, kith_mp_fix_write):
 * writes past cap fail (msgpack-c then returns non-zero). */
struct kith_mp_fixbuf {
  uint8_t *p;
  size_t cap, len;
};
int kith_mp_fix_write(void *data, const char *buf, size_t n);

/* Fields of an unpacked message, for decoders: 0, or KITH_EBADMSG if o is not of
 * the type (a bin of exactly n bytes; an unsigned integer, within 32 bits for
 * kith_mp_get_u32). */
int kith_mp_get_bin(const msgpack_object *o, uint8_t *dst, size_t n);
int kith_mp_get_u64(const msgpack_object *o, uint64_t *v);
int kith_mp_get_u32(const msgpack_object *o, uint32_t *v);
/* Packs b (n bytes) as one bin: msgpack-c's result (0 on success). */
int kith_mp_pack_bin(msgpack_packer *pk, const uint8_t *b, size_t n);

/* Moves an sbuffer's bytes to the caller (*out, *len): the sbuffer is left empty. */
void kith_mp_take(msgpack_sbuffer *sb, uint8_t **out, size_t *len);

#endif
