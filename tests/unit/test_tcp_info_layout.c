/* Our struct ho_tcp_info must match the kernel's uapi struct tcp_info
 * field for field, as far as the system's <linux/tcp.h> goes. This file
 * includes no libnl, so <linux/tcp.h> does not clash here. */
#include <stddef.h>
#include <linux/tcp.h>

#include "collectors/tcp_info.h"
#include "testing.h"

#define SAME(f) CHECK_EQ_UINT(offsetof(struct tcp_info, f), offsetof(struct ho_tcp_info, f))

DEF_TEST(layout)
{
	SAME(tcpi_state);
	SAME(tcpi_retransmits);
	SAME(tcpi_probes);
	SAME(tcpi_backoff);
	SAME(tcpi_options);
	SAME(tcpi_rto);
	SAME(tcpi_unacked);
	SAME(tcpi_retrans);
	SAME(tcpi_last_data_sent);
	SAME(tcpi_last_data_recv);
	SAME(tcpi_last_ack_recv);
	SAME(tcpi_pmtu);
	SAME(tcpi_rtt);
	SAME(tcpi_total_retrans);
	SAME(tcpi_pacing_rate);
	SAME(tcpi_bytes_acked);
	SAME(tcpi_segs_out);
	SAME(tcpi_notsent_bytes);
	SAME(tcpi_delivery_rate);
	SAME(tcpi_busy_time);
	SAME(tcpi_delivered);
	SAME(tcpi_bytes_sent);
	SAME(tcpi_dsack_dups);
	SAME(tcpi_rcv_ooopack);
	SAME(tcpi_snd_wnd);
	CHECK(sizeof(struct ho_tcp_info) >= sizeof(struct tcp_info));
	return 0;
}

int main(void)
{
	RUN_TEST(layout);
	END_TEST;
}
