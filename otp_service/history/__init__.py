"""History and insights: what the worker keeps of every verification (a compact record
once it ends, hourly counters as events happen), and what operators read of it."""

from otp_service.history.recorder import Recorder
from otp_service.history.service import HistoryService

__all__ = ["HistoryService", "Recorder"]
