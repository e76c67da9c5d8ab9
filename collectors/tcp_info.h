/* Our own copy of the kernel's struct tcp_info (uapi linux/tcp.h, up to
 * Linux 6.7). <netlink/netlink.h> drags in glibc's <netinet/tcp.h>, whose
 * struct tcp_info clashes with <linux/tcp.h>, and glibc's copy stops at
 * older kernels. The kernel sends as many bytes as it knows; sockdiag_parse
 * copies min(len, sizeof) and zeroes the rest, so a field this struct has
 * but the running kernel lacks reads as 0, and fields newer than this copy
 * are ignored. tests/unit/test_tcp_info_layout.c checks the offsets against
 * the system's <linux/tcp.h>. */
#ifndef HALFOPEN_TCP_INFO_H
#define HALFOPEN_TCP_INFO_H

#include <stdint.h>

struct ho_tcp_info {
	uint8_t tcpi_state;
	uint8_t tcpi_ca_state;
	uint8_t tcpi_retransmits;
	uint8_t tcpi_probes;
	uint8_t tcpi_backoff;
	uint8_t tcpi_options;
	uint8_t tcpi_snd_wscale : 4, tcpi_rcv_wscale : 4;
	uint8_t tcpi_delivery_rate_app_limited : 1, tcpi_fastopen_client_fail : 2;

	uint32_t tcpi_rto;
	uint32_t tcpi_ato;
	uint32_t tcpi_snd_mss;
	uint32_t tcpi_rcv_mss;

	uint32_t tcpi_unacked;
	uint32_t tcpi_sacked;
	uint32_t tcpi_lost;
	uint32_t tcpi_retrans;
	uint32_t tcpi_fackets;

	uint32_t tcpi_last_data_sent;
	uint32_t tcpi_last_ack_sent;
	uint32_t tcpi_last_data_recv;
	uint32_t tcpi_last_ack_recv;

	uint32_t tcpi_pmtu;
	uint32_t tcpi_rcv_ssthresh;
	uint32_t tcpi_rtt;
	uint32_t tcpi_rttvar;
	uint32_t tcpi_snd_ssthresh;
	uint32_t tcpi_snd_cwnd;
	uint32_t tcpi_advmss;
	uint32_t tcpi_reordering;

	uint32_t tcpi_rcv_rtt;
	uint32_t tcpi_rcv_space;

	uint32_t tcpi_total_retrans;

	uint64_t tcpi_pacing_rate;
	uint64_t tcpi_max_pacing_rate;
	uint64_t tcpi_bytes_acked;
	uint64_t tcpi_bytes_received;
	uint32_t tcpi_segs_out;
	uint32_t tcpi_segs_in;

	uint32_t tcpi_notsent_bytes;
	uint32_t tcpi_min_rtt;
	uint32_t tcpi_data_segs_in;
	uint32_t tcpi_data_segs_out;

	uint64_t tcpi_delivery_rate;

	uint64_t tcpi_busy_time;
	uint64_t tcpi_rwnd_limited;
	uint64_t tcpi_sndbuf_limited;

	uint32_t tcpi_delivered;
	uint32_t tcpi_delivered_ce;

	uint64_t tcpi_bytes_sent;
	uint64_t tcpi_bytes_retrans;
	uint32_t tcpi_dsack_dups;
	uint32_t tcpi_reord_seen;

	uint32_t tcpi_rcv_ooopack;

	uint32_t tcpi_snd_wnd; /* Linux 5.4 */
	uint32_t tcpi_rcv_wnd; /* Linux 6.2 */

	uint32_t tcpi_rehash; /* Linux 6.2 */

	uint16_t tcpi_total_rto;            /* Linux 6.7 */
	uint16_t tcpi_total_rto_recoveries; /* Linux 6.7 */
	uint32_t tcpi_total_rto_time;       /* Linux 6.7 */
};

#endif
