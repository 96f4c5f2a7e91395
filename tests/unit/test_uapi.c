// SPDX-License-Identifier: GPL-2.0
/* Our UAPI header against the kernel's ABI: sizes, offsets, opcodes. */
#include <stddef.h>
#include <linux/ublk_cmd.h>

#include "unit.h"

int main(void)
{
	CHECK_EQ(sizeof(struct ublksrv_ctrl_cmd), 32);
	CHECK_EQ(sizeof(struct ublksrv_ctrl_dev_info), 64);
	CHECK_EQ(sizeof(struct ublksrv_io_desc), 24);
	CHECK_EQ(sizeof(struct ublksrv_io_cmd), 16);
	CHECK_EQ(sizeof(struct ublk_batch_io), 16);
	CHECK_EQ(sizeof(struct ublk_elem_header), 8);
	CHECK_EQ(sizeof(struct ublk_auto_buf_reg), 8);
	CHECK_EQ(sizeof(struct ublk_param_basic), 32);
	CHECK_EQ(sizeof(struct ublk_param_discard), 20);
	CHECK_EQ(sizeof(struct ublk_param_devt), 16);
	CHECK_EQ(sizeof(struct ublk_param_zoned), 32);
	CHECK_EQ(sizeof(struct ublk_param_segment), 16);
	CHECK_EQ(offsetof(struct ublksrv_ctrl_cmd, data), 16);
	CHECK_EQ(offsetof(struct ublksrv_ctrl_cmd, dev_path_len), 24);
	CHECK_EQ(offsetof(struct ublksrv_ctrl_dev_info, flags), 24);
	CHECK_EQ(offsetof(struct ublksrv_ctrl_dev_info, owner_uid), 40);
	CHECK_EQ(offsetof(struct ublk_params, basic), 8);

	/* Encoded opcodes as the kernel defines them. */
	CHECK_EQ(UBLK_U_IO_PREP_IO_CMDS, 0xc0107525);
	CHECK_EQ(UBLK_U_IO_COMMIT_IO_CMDS, 0xc0107526);
	CHECK_EQ(UBLK_U_IO_FETCH_IO_CMDS, 0xc0107527);
	CHECK_EQ(UBLK_U_IO_FETCH_REQ, 0xc0107520);
	CHECK_EQ(UBLK_U_IO_COMMIT_AND_FETCH_REQ, 0xc0107521);
	CHECK_EQ(UBLK_U_IO_REGISTER_IO_BUF, 0xc0107523);
	CHECK_EQ(UBLK_U_CMD_ADD_DEV, 0xc0207504);
	CHECK_EQ(UBLK_U_CMD_GET_DEV_INFO2, 0x80207512);
	CHECK_EQ(UBLK_U_CMD_GET_FEATURES, 0x80207513);
	CHECK_EQ(UBLK_U_CMD_DEL_DEV_ASYNC, 0x80207514);
	CHECK_EQ(UBLK_U_CMD_UPDATE_SIZE, 0xc0207515);
	CHECK_EQ(UBLK_U_CMD_TRY_STOP_DEV, 0xc0207517);
	CHECK_EQ(UBLK_U_CMD_REG_BUF, 0xc0207518);
	CHECK_EQ(UBLK_U_CMD_UNREG_BUF, 0xc0207519);
	CHECK_EQ(sizeof(struct ublk_shmem_buf_reg), 24);
	CHECK_EQ(offsetof(struct ublk_shmem_buf_reg, flags), 16);
	CHECK_EQ(UBLK_SHMEM_BUF_READ_ONLY, 1);
	CHECK_EQ(UBLK_IO_F_SHMEM_ZC, 1U << 19);

	/* Feature bits named in the issue, and their positions. */
	CHECK_EQ(UBLK_F_AUTO_BUF_REG, 1ULL << 11);
	CHECK_EQ(UBLK_F_BATCH_IO, 1ULL << 15);
	CHECK_EQ(UBLK_F_SHMEM_ZC, 1ULL << 19);

	/* Auto buffer registration packing round-trips. */
	{
		struct ublk_auto_buf_reg r = { .index = 0x1234, .flags = 1 };
		__u64 a = ublk_auto_buf_reg_to_sqe_addr(&r);
		struct ublk_auto_buf_reg back =
			ublk_sqe_addr_to_auto_buf_reg(a);

		CHECK_EQ(a, 0x11234);
		CHECK_EQ(back.index, 0x1234);
		CHECK_EQ(back.flags, 1);
		CHECK_EQ(back.reserved0, 0);
		CHECK_EQ(back.reserved1, 0);
	}

	/* USER_COPY offset layout: 25 bits of bytes, 16 of tag, 12 of queue. */
	CHECK_EQ(UBLK_QID_OFF, 41);
	CHECK_EQ(UBLKSRV_IO_BUF_TOTAL_SIZE, 1ULL << 53);
	return unit_done("test_uapi");
}
