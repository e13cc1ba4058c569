"""Back-office screens of the calls app (OPS-11…OPS-17): one module per model."""

from calls.admin.downloads import RegistryDownloadAdmin
from calls.admin.jobs import TranscriptionJobAdmin
from calls.admin.qa import QaReviewAdmin
from calls.admin.records import CallRecordAdmin
from calls.admin.runs import CallExportAdmin, StartExportForm

__all__ = [
    "CallExportAdmin",
    "CallRecordAdmin",
    "QaReviewAdmin",
    "RegistryDownloadAdmin",
    "StartExportForm",
    "TranscriptionJobAdmin",
]
