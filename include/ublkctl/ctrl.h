/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Control path: /dev/ublk-control commands over a small SQE128 io_uring.
 * One struct ublk_ctrl per process (or per thread using it); not
 * thread-safe. Every function returns 0 (or a count) on success and a
 * negative errno on failure, and prints nothing: callers own messages.
 * EINTR from io_uring_enter is retried inside.
 */
#ifndef UBLKCTL_CTRL_H
#define UBLKCTL_CTRL_H

#include <liburing.h>
#include <stdint.h>
#include <linux/ublk_cmd.h>

#define UBLK_CONTROL_PATH "/dev/ublk-control"
#define UBLK_CHAR_PATH_FMT "/dev/ublkc%u"
#define UBLK_BLOCK_PATH_FMT "/dev/ublkb%u"
#define UBLK_SYSFS_CHAR_CLASS "/sys/class/ublk-char"

struct ublk_ctrl {
	struct io_uring ring;
	int fd;
};

/* Open /dev/ublk-control; -ENOENT when ublk is not loaded. */
int ublk_ctrl_open(struct ublk_ctrl *c);
void ublk_ctrl_close(struct ublk_ctrl *c);

/* Feature bits of the running driver. */
int ublk_ctrl_get_features(struct ublk_ctrl *c, uint64_t *features);
/*
 * ADD_DEV: info in (dev_id = (u32)-1 for any), info out as granted: the
 * kernel may clear flags, so read info->flags back.
 */
int ublk_ctrl_add_dev(struct ublk_ctrl *c, struct ublksrv_ctrl_dev_info *info);
/*
 * A device command that carries no buffer, by opcode (UBLK_U_CMD_STOP_DEV,
 * TRY_STOP_DEV, DEL_DEV, DEL_DEV_ASYNC, QUIESCE_DEV, UPDATE_SIZE, ...);
 * data is its argument (QUIESCE_DEV's timeout in ms, UPDATE_SIZE's
 * sectors, START_DEV's pid). EINTR is retried for the commands that are
 * safe to repeat: START_DEV, DEL_DEV(_ASYNC), START/END_USER_RECOVERY.
 * The functions below that take no buffer are this with their opcode
 * (TRY_STOP_DEV and QUIESCE_DEV, run bounded, have none of their own).
 */
int ublk_ctrl_dev_op(struct ublk_ctrl *c, uint32_t op, uint32_t dev_id,
		     uint64_t data);
int ublk_ctrl_del_dev(struct ublk_ctrl *c, uint32_t dev_id, bool async);
/* START_DEV / END_USER_RECOVERY carry the server's tgid. */
int ublk_ctrl_start_dev(struct ublk_ctrl *c, uint32_t dev_id, int32_t pid);
int ublk_ctrl_stop_dev(struct ublk_ctrl *c, uint32_t dev_id);
int ublk_ctrl_get_info(struct ublk_ctrl *c, uint32_t dev_id,
		       struct ublksrv_ctrl_dev_info *info);
int ublk_ctrl_set_params(struct ublk_ctrl *c, uint32_t dev_id,
			 struct ublk_params *p);
int ublk_ctrl_get_params(struct ublk_ctrl *c, uint32_t dev_id,
			 struct ublk_params *p);
int ublk_ctrl_get_affinity(struct ublk_ctrl *c, uint32_t dev_id, uint16_t q_id,
			   void *mask, uint16_t len);
int ublk_ctrl_update_size(struct ublk_ctrl *c, uint32_t dev_id,
			  uint64_t sectors);
int ublk_ctrl_start_recovery(struct ublk_ctrl *c, uint32_t dev_id);
int ublk_ctrl_end_recovery(struct ublk_ctrl *c, uint32_t dev_id, int32_t pid);
/*
 * REG_BUF (SHMEM_ZC): pin len bytes of shared memory mapped at addr in
 * this process (both page aligned) for device dev_id; flags
 * UBLK_SHMEM_BUF_READ_ONLY or 0. Returns the buffer's index (>= 0).
 */
int ublk_ctrl_reg_buf(struct ublk_ctrl *c, uint32_t dev_id, void *addr,
		      uint64_t len, uint32_t flags);

/* Feature-bit names (index = bit), NULL for bits this build does not know. */
const char *ublk_feature_name(unsigned int bit);
/* Number of bits ublk_feature_name knows (21 today). */
unsigned int ublk_feature_count(void);

/*
 * Device ids present, from /sys/class/ublk-char (ids above 127 included),
 * ascending. Returns the count (<= max) or a negative errno.
 */
int ublk_list_dev_ids(uint32_t *ids, int max);

#endif /* UBLKCTL_CTRL_H */
