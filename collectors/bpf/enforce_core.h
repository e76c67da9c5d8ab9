/* enforce_core.h: the kernel types enforce.bpf.c reads, and nothing else.
 *
 * Why a minimal checked-in header, not a vmlinux.h: the program used to
 * compile against a vmlinux.h dumped from the build machine's
 * /sys/kernel/btf/vmlinux, so a build without it (a container, sbuild)
 * had no enforce, and no two build machines built the same program. A
 * checked-in generated vmlinux.h (libbpf-bootstrap's way) fixes both but
 * is ~100k lines of one kernel's layout to review and keep per
 * architecture, of which the program uses ten fields. Here every struct
 * carries preserve_access_index: clang records each field access as a
 * CO-RE relocation by name, and libbpf resolves it against the running
 * kernel's BTF at load time. The layouts below are therefore never
 * trusted: only the names (and the field types' sizes) matter, and a field
 * a kernel lacks fails the load (libbpf names it). The iterator's fields
 * were checked offline against Debian's 5.10 and 6.1 kernel BTF and this
 * machine's 6.18 (`bpftool gen min_core_btf VMLINUX OUT enforce.bpf.o`
 * resolves every relocation); with the connection-time program's
 * (skc_net, ns.inum, bpf_sock_ops) the object loads and runs on Debian's
 * 6.1 under qemu (tests/kernels) and on 6.18.
 *
 * Adding a field: declare it here under its kernel name and type, in the
 * struct the kernel has it in. */
#ifndef HALFOPEN_ENFORCE_CORE_H
#define HALFOPEN_ENFORCE_CORE_H

typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef __u32 uid_t;
typedef _Bool bool;
#define true 1
#define false 0

/* UAPI constants (linux/bpf.h), stable by ABI. */
enum bpf_map_type {
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_SK_STORAGE = 24,
};
/* struct bpf_sock_ops's op: the two a connection reaches ESTABLISHED by. */
enum {
	BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB = 4,
	BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB = 5,
};
enum {
	BPF_ANY = 0,
};
enum {
	BPF_F_NO_PREALLOC = 1,
};
enum {
	BPF_SK_STORAGE_GET_F_CREATE = 1,
};

/* include/net/sock.h; only the name matters to bpf_core_enum_value(). */
enum sock_flags {
	SOCK_DEAD,
	SOCK_DONE,
	SOCK_URGINLINE,
	SOCK_KEEPOPEN,
};

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

/* A network namespace, for its inode (the connection-time program acts
 * in the namespaces the exporter covers). */
struct ns_common {
	unsigned int inum;
};

struct net {
	struct ns_common ns;
};

typedef struct {
	struct net *net;
} possible_net_t;

struct sock_common {
	union {
		struct {
			__be16 skc_dport;
			__u16 skc_num;
		};
	};
	volatile unsigned char skc_state;
	possible_net_t skc_net;
	/* sock_flag()'s bits (sk_flags is a #define for it; in sock_common
	 * in 5.10, 6.1 and 6.18). */
	unsigned long skc_flags;
};

struct sock {
	struct sock_common __sk_common;
};

struct inet_sock {
	struct sock sk;
};

struct inet_connection_sock {
	struct inet_sock icsk_inet;
	__u32 icsk_user_timeout; /* ms; 0: never set */
};

struct tcp_sock {
	struct inet_connection_sock inet_conn;
	unsigned int keepalive_time;  /* jiffies; 0: never set (sysctl applies) */
	unsigned int keepalive_intvl; /* likewise */
	__u8 keepalive_probes;	      /* likewise */
};

/* The sock_ops program's context (UAPI; the verifier rewrites each
 * access, CO-RE finds the offsets). */
struct bpf_sock;
struct bpf_sock_ops {
	__u32 op;
	union {
		struct bpf_sock *sk;
	} __attribute__((aligned(8)));
};

struct bpf_iter_meta {
	void *seq;
	__u64 session_id;
	__u64 seq_num;
};

struct bpf_iter__tcp {
	union {
		struct bpf_iter_meta *meta;
	};
	union {
		struct sock_common *sk_common;
	};
	uid_t uid __attribute__((aligned(8)));
};

#pragma clang attribute pop

#endif
