"""The operators' opt-out list (/v1/admin/opt-outs: add, remove, list, sync, export,
import, and the audit log they write) on the cluster."""

from tests.admin.conftest import services  # noqa: F401 - the fixture those tests use
from tests.admin.test_optouts import *  # noqa: F403
