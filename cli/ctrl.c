// SPDX-License-Identifier: GPL-2.0
/*
 * Control commands on /dev/ublk-control. Each command is one URING_CMD on a
 * private SQE128 ring; the 32-byte ublksrv_ctrl_cmd lives in the SQE's
 * command area. Commands about an unprivileged device must name its
 * /dev/ublkcN path at the start of the command buffer, so for non-root
 * callers every device command carries it (and GET_DEV_INFO2 always does:
 * the driver requires it there even for privileged devices).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ublkctl/ublkctl.h"
#include "ublkctl/ctrl.h"

#define CTRL_NO_QUEUE ((uint16_t)-1)

int ublk_ctrl_open(struct ublk_ctrl *c)
{
	int ret;

	c->fd = open(UBLK_CONTROL_PATH, O_RDWR | O_CLOEXEC);
	if (c->fd < 0)
		return -errno;
	ret = io_uring_queue_init(4, &c->ring, IORING_SETUP_SQE128);
	if (ret < 0) {
		close(c->fd);
		c->fd = -1;
		return ret;
	}
	return 0;
}

void ublk_ctrl_close(struct ublk_ctrl *c)
{
	if (c->fd < 0)
		return;
	io_uring_queue_exit(&c->ring);
	close(c->fd);
	c->fd = -1;
}

struct ctrl_req {
	uint32_t op;
	uint32_t dev_id;
	uint16_t q_id;
	void *buf;
	uint32_t len;
	uint64_t data;
	bool path; /* prefix the buffer with /dev/ublkcN */
};

static int ctrl_submit(struct ublk_ctrl *c, const struct ctrl_req *r)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct ublksrv_ctrl_cmd *cmd;
	char *bounce = NULL;
	void *addr = r->buf;
	uint32_t len = r->len;
	uint16_t path_len = 0;
	int ret;

	if (r->path) {
		char path[64];

		path_len = (uint16_t)snprintf(path, sizeof(path),
					      UBLK_CHAR_PATH_FMT, r->dev_id);
		bounce = calloc(1, path_len + len);
		if (!bounce)
			return -ENOMEM;
		memcpy(bounce, path, path_len);
		if (len)
			memcpy(bounce + path_len, r->buf, len);
		addr = bounce;
		len += path_len;
	}

	sqe = io_uring_get_sqe(&c->ring);
	if (!sqe) {
		free(bounce);
		return -EBUSY;
	}
	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = c->fd;
	sqe->cmd_op = r->op;
	cmd = (struct ublksrv_ctrl_cmd *)sqe->cmd;
	cmd->dev_id = r->dev_id;
	cmd->queue_id = r->q_id;
	cmd->addr = (uint64_t)(uintptr_t)addr;
	cmd->len = (uint16_t)len;
	cmd->data[0] = r->data;
	cmd->dev_path_len = path_len;

	do {
		ret = io_uring_submit_and_wait(&c->ring, 1);
	} while (ret == -EINTR);
	if (ret < 0)
		goto out;
	do {
		ret = io_uring_wait_cqe(&c->ring, &cqe);
	} while (ret == -EINTR);
	if (ret < 0)
		goto out;
	ret = cqe->res;
	io_uring_cqe_seen(&c->ring, cqe);
	if (bounce && ret >= 0 && r->len)
		memcpy(r->buf, bounce + path_len, r->len);
out:
	free(bounce);
	return ret;
}

static bool need_path(void)
{
	return geteuid() != 0;
}

/*
 * A command about device dev_id (and queue q_id, or CTRL_NO_QUEUE),
 * naming /dev/ublkcN when the caller is not root.
 */
static int dev_queue_cmd(struct ublk_ctrl *c, uint32_t op, uint32_t dev_id,
			 uint16_t q_id, void *buf, uint32_t len, uint64_t data)
{
	struct ctrl_req r = {
		.op = op,
		.dev_id = dev_id,
		.q_id = q_id,
		.buf = buf,
		.len = len,
		.data = data,
		.path = need_path(),
	};

	return ctrl_submit(c, &r);
}

static int dev_cmd(struct ublk_ctrl *c, uint32_t op, uint32_t dev_id, void *buf,
		   uint32_t len, uint64_t data)
{
	return dev_queue_cmd(c, op, dev_id, CTRL_NO_QUEUE, buf, len, data);
}

/*
 * START/DEL/START_USER_RECOVERY/END_USER_RECOVERY may be interrupted while
 * they wait in the kernel; they are safe to repeat.
 */
static bool repeatable(uint32_t op)
{
	return op == UBLK_U_CMD_START_DEV || op == UBLK_U_CMD_DEL_DEV ||
	       op == UBLK_U_CMD_DEL_DEV_ASYNC ||
	       op == UBLK_U_CMD_START_USER_RECOVERY ||
	       op == UBLK_U_CMD_END_USER_RECOVERY;
}

int ublk_ctrl_dev_op(struct ublk_ctrl *c, uint32_t op, uint32_t dev_id,
		     uint64_t data)
{
	int ret;

	do {
		ret = dev_cmd(c, op, dev_id, NULL, 0, data);
	} while (ret == -EINTR && repeatable(op));
	return ret;
}

int ublk_ctrl_get_features(struct ublk_ctrl *c, uint64_t *features)
{
	struct ctrl_req r = {
		.op = UBLK_U_CMD_GET_FEATURES,
		.dev_id = (uint32_t)-1,
		.q_id = CTRL_NO_QUEUE,
		.buf = features,
		.len = UBLK_FEATURES_LEN,
	};

	int ret;

	*features = 0;
	ret = ctrl_submit(c, &r);
	return ret < 0 ? ret : 0;
}

int ublk_ctrl_add_dev(struct ublk_ctrl *c, struct ublksrv_ctrl_dev_info *info)
{
	struct ctrl_req r = {
		.op = UBLK_U_CMD_ADD_DEV,
		.dev_id = info->dev_id,
		.q_id = CTRL_NO_QUEUE,
		.buf = info,
		.len = sizeof(*info),
	};

	return ctrl_submit(c, &r);
}

int ublk_ctrl_del_dev(struct ublk_ctrl *c, uint32_t dev_id, bool async)
{
	return ublk_ctrl_dev_op(
		c, async ? UBLK_U_CMD_DEL_DEV_ASYNC : UBLK_U_CMD_DEL_DEV,
		dev_id, 0);
}

int ublk_ctrl_start_dev(struct ublk_ctrl *c, uint32_t dev_id, int32_t pid)
{
	return ublk_ctrl_dev_op(c, UBLK_U_CMD_START_DEV, dev_id, (uint64_t)pid);
}

int ublk_ctrl_stop_dev(struct ublk_ctrl *c, uint32_t dev_id)
{
	return ublk_ctrl_dev_op(c, UBLK_U_CMD_STOP_DEV, dev_id, 0);
}

int ublk_ctrl_get_info(struct ublk_ctrl *c, uint32_t dev_id,
		       struct ublksrv_ctrl_dev_info *info)
{
	struct ctrl_req r = {
		.op = UBLK_U_CMD_GET_DEV_INFO2,
		.dev_id = dev_id,
		.q_id = CTRL_NO_QUEUE,
		.buf = info,
		.len = sizeof(*info),
		.path = true,
	};
	int ret;

	ret = ctrl_submit(c, &r);
	if (ret == -EOPNOTSUPP || ret == -EINVAL) {
		r.op = UBLK_U_CMD_GET_DEV_INFO;
		r.path = need_path();
		ret = ctrl_submit(c, &r);
	}
	return ret < 0 ? ret : 0;
}

int ublk_ctrl_set_params(struct ublk_ctrl *c, uint32_t dev_id,
			 struct ublk_params *p)
{
	p->len = sizeof(*p);
	return dev_cmd(c, UBLK_U_CMD_SET_PARAMS, dev_id, p, sizeof(*p), 0);
}

int ublk_ctrl_get_params(struct ublk_ctrl *c, uint32_t dev_id,
			 struct ublk_params *p)
{
	memset(p, 0, sizeof(*p));
	p->len = sizeof(*p);
	return dev_cmd(c, UBLK_U_CMD_GET_PARAMS, dev_id, p, sizeof(*p), 0);
}

int ublk_ctrl_get_affinity(struct ublk_ctrl *c, uint32_t dev_id, uint16_t q_id,
			   void *mask, uint16_t len)
{
	return dev_queue_cmd(c, UBLK_U_CMD_GET_QUEUE_AFFINITY, dev_id, q_id,
			     mask, len, q_id);
}

int ublk_ctrl_update_size(struct ublk_ctrl *c, uint32_t dev_id,
			  uint64_t sectors)
{
	return ublk_ctrl_dev_op(c, UBLK_U_CMD_UPDATE_SIZE, dev_id, sectors);
}

int ublk_ctrl_start_recovery(struct ublk_ctrl *c, uint32_t dev_id)
{
	return ublk_ctrl_dev_op(c, UBLK_U_CMD_START_USER_RECOVERY, dev_id, 0);
}

int ublk_ctrl_end_recovery(struct ublk_ctrl *c, uint32_t dev_id, int32_t pid)
{
	return ublk_ctrl_dev_op(c, UBLK_U_CMD_END_USER_RECOVERY, dev_id,
				(uint64_t)pid);
}

int ublk_ctrl_reg_buf(struct ublk_ctrl *c, uint32_t dev_id, void *addr,
		      uint64_t len, uint32_t flags)
{
	struct ublk_shmem_buf_reg reg = {
		.addr = (uint64_t)(uintptr_t)addr,
		.len = len,
		.flags = flags,
	};

	return dev_cmd(c, UBLK_U_CMD_REG_BUF, dev_id, &reg, sizeof(reg), 0);
}

static const char *const feature_names[] = {
	"ZERO_COPY",
	"URING_CMD_COMP_IN_TASK",
	"NEED_GET_DATA",
	"USER_RECOVERY",
	"USER_RECOVERY_REISSUE",
	"UNPRIVILEGED_DEV",
	"CMD_IOCTL_ENCODE",
	"USER_COPY",
	"ZONED",
	"USER_RECOVERY_FAIL_IO",
	"UPDATE_SIZE",
	"AUTO_BUF_REG",
	"QUIESCE",
	"PER_IO_DAEMON",
	"BUF_REG_OFF_DAEMON",
	"BATCH_IO",
	"INTEGRITY",
	"SAFE_STOP_DEV",
	"NO_AUTO_PART_SCAN",
	"SHMEM_ZC",
	"IO_DESC_SIZE",
};

const char *ublk_feature_name(unsigned int bit)
{
	return bit < ARRAY_SIZE(feature_names) ? feature_names[bit] : NULL;
}

unsigned int ublk_feature_count(void)
{
	return ARRAY_SIZE(feature_names);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int ublk_list_dev_ids(uint32_t *ids, int max)
{
	DIR *d = opendir(UBLK_SYSFS_CHAR_CLASS);
	struct dirent *e;
	int n = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)) && n < max) {
		char *end;
		unsigned long id;

		if (strncmp(e->d_name, "ublkc", 5) || !e->d_name[5])
			continue;
		id = strtoul(e->d_name + 5, &end, 10);
		if (*end || id > UBLK_MAX_DEV_ID)
			continue;
		ids[n++] = (uint32_t)id;
	}
	closedir(d);
	qsort(ids, n, sizeof(*ids), cmp_u32);
	return n;
}
