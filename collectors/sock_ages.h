/* sock_ages: since when the exporter has seen each hanging socket, by
 * socket cookie, across collections.
 *
 * The kernel keeps no usable "hanging since" stamp: tcp_info's receive
 * stamps are unset on a socket that never received anything (SYN-SENT),
 * and nothing says when the oldest unacknowledged segment was first sent.
 * So the exporter remembers the first collection that saw a socket hang
 * (retransmitting or keepalive probing); a socket not seen hanging by the
 * previous collection starts again. Two generations: the entries of the
 * collection running (cur) and those of the one before (prev). Pure: the
 * caller passes the clock. */
#ifndef HALFOPEN_SOCK_AGES_H
#define HALFOPEN_SOCK_AGES_H

#include <stdint.h>

struct sock_ages;

/* 0 or -ENOMEM. */
int sock_ages_new(struct sock_ages **out);
/* Accepts NULL. */
void sock_ages_free(struct sock_ages *a);
/* A new collection starts: what the last one saw becomes prev, and what
 * prev held but the last one did not see is forgotten. */
void sock_ages_next(struct sock_ages *a);
/* The time (caller's clock, ms) this socket was first seen in an unbroken
 * run of collections, now_ms when it is new. Idempotent within a
 * collection (a redone dump observes a socket twice). Cookie 0 or no
 * memory: now_ms, i.e. an age of 0, never a made-up one. */
uint64_t sock_ages_since(struct sock_ages *a, uint64_t cookie, uint64_t now_ms);
/* Sockets remembered by the running collection. */
uint64_t sock_ages_count(const struct sock_ages *a);

#endif
