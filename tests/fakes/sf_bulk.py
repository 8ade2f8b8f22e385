"""Bulk API 2.0 ingest jobs for the fake Salesforce: states, CSV processing, results."""

from __future__ import annotations

import csv
import io
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.fakes.sf_schema import ApiError, RecordError, sf_datetime


@dataclass
class BulkJob:
    id: str
    object: str
    operation: str
    created_by: str
    api_version: str
    state: str = "Open"
    data: str | None = None
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    processed: int = 0
    failed: int = 0
    successful_rows: list[list[str]] = field(default_factory=list)
    failed_rows: list[list[str]] = field(default_factory=list)
    unprocessed_rows: list[list[str]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    error_message: str | None = None
    processing_ms: int = 0


class BulkJobs:
    """Mixed into ``Org``: the ingest job endpoints' rules (Open -> UploadComplete ->
    InProgress -> JobComplete, or Failed / Aborted), processed on a thread."""

    lock: threading.RLock
    jobs: dict[str, BulkJob]
    schema: dict[str, dict[str, str]]
    bulk_rows_per_s: float
    bulk_min_s: float

    def job_info(self, job: BulkJob) -> dict[str, Any]:
        info: dict[str, Any] = {
            "id": job.id,
            "operation": job.operation,
            "object": job.object,
            "createdById": job.created_by,
            "createdDate": sf_datetime(job.created),
            "systemModstamp": sf_datetime(job.created),
            "state": job.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(job.api_version),
            "jobType": "V2Ingest",
            "contentUrl": f"services/data/v{job.api_version}/jobs/ingest/{job.id}/batches",
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
            "numberRecordsProcessed": job.processed,
            "numberRecordsFailed": job.failed,
            "retries": 0,
            "totalProcessingTime": job.processing_ms,
            "apiActiveProcessingTime": job.processing_ms,
            "apexProcessingTime": 0,
        }
        if job.error_message:
            info["errorMessage"] = job.error_message
        return info

    def create_job(self, body: dict[str, Any], user_id: str, version: str) -> BulkJob:
        operation = body.get("operation")
        sobject = body.get("object")
        if operation not in ("insert", "update", "upsert", "delete", "hardDelete"):
            raise ApiError(400, "INVALIDJOB", f"Invalid operation: {operation}")
        if sobject not in self.schema:
            raise ApiError(400, "INVALIDJOB", f"Unable to find object: {sobject}")
        if body.get("contentType", "CSV") != "CSV":
            raise ApiError(400, "INVALIDJOB", "Only CSV content is supported")
        job = BulkJob(self.new_id("Job"), sobject, operation, user_id, version)
        with self.lock:
            self.jobs[job.id] = job
        return job

    def job(self, job_id: str) -> BulkJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        return job

    def upload(self, job: BulkJob, data: bytes) -> None:
        with self.lock:
            if job.state != "Open":
                raise ApiError(409, "INVALIDJOBSTATE", f"Job's state is {job.state}, not Open")
            if job.data is not None:
                raise ApiError(409, "INVALIDJOBSTATE", "Job data was already uploaded")
            if len(data) > 150 * 1024 * 1024:
                raise ApiError(400, "INVALIDBATCH", "The uploaded file exceeds 150 MB")
            job.data = data.decode("utf-8")

    def set_job_state(self, job: BulkJob, state: str) -> None:
        with self.lock:
            if state == "UploadComplete":
                if job.state != "Open":
                    raise ApiError(
                        409, "INVALIDJOBSTATE", f"Job's state is {job.state}; cannot close it"
                    )
                job.state = "UploadComplete"
                threading.Thread(target=self._process, args=(job,), daemon=True).start()
            elif state == "Aborted":
                if job.state not in ("Open", "UploadComplete", "InProgress"):
                    raise ApiError(409, "INVALIDJOBSTATE", f"Job's state is {job.state}")
                job.state = "Aborted"
            else:
                raise ApiError(400, "INVALIDJOBSTATE", f"Cannot change a job's state to {state}")

    def _process(self, job: BulkJob) -> None:
        started = time.monotonic()
        with self.lock:
            if job.state != "UploadComplete":
                return
            job.state = "InProgress"
        if not job.data:
            with self.lock:
                job.state, job.error_message = "Failed", "InvalidBatch : No data was uploaded"
            return
        reader = csv.reader(io.StringIO(job.data))
        header = next(reader, [])
        try:
            canonical = [
                "Id" if h.lower() == "id" else self.field_name(job.object, h) for h in header
            ]
        except RecordError as exc:
            with self.lock:
                job.state = "Failed"
                job.error_message = f"InvalidBatch : Field name not found : {exc.fields[0]}"
            return
        job.header = header
        rows = 0
        for row in reader:
            rows += 1
            if job.state == "Aborted":
                job.unprocessed_rows.append(row)
                continue
            values = {h: v for h, v in zip(canonical, row, strict=False) if v != ""}
            values = {h: (None if v == "#N/A" else v) for h, v in values.items()}
            record_id = values.pop("Id", None) or ""
            try:
                if job.operation == "update":
                    self.update(job.object, record_id, values)
                    created = "false"
                elif job.operation == "insert":
                    record_id = self.insert(job.object, values)
                    created = "true"
                else:
                    raise RecordError("INVALID_OPERATION", f"{job.operation} is not faked")
                job.successful_rows.append([record_id, created, *row])
            except RecordError as exc:
                job.failed_rows.append([record_id, f"{exc.code}:{exc.message}:--", *row])
        elapsed = time.monotonic() - started
        wanted = max(self.bulk_min_s, rows / self.bulk_rows_per_s)
        if wanted > elapsed:
            time.sleep(wanted - elapsed)
        with self.lock:
            job.processed = len(job.successful_rows) + len(job.failed_rows)
            job.failed = len(job.failed_rows)
            job.processing_ms = int((time.monotonic() - started) * 1000)
            if job.state != "Aborted":
                job.state = "JobComplete"

    def results_csv(self, job: BulkJob, kind: str) -> str:
        if job.state not in ("JobComplete", "Failed", "Aborted"):
            raise ApiError(409, "INVALIDJOBSTATE", f"Job's state is {job.state}; not finished")
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if kind == "successfulResults":
            writer.writerow(["sf__Id", "sf__Created", *job.header])
            writer.writerows(job.successful_rows)
        elif kind == "failedResults":
            writer.writerow(["sf__Id", "sf__Error", *job.header])
            writer.writerows(job.failed_rows)
        else:
            writer.writerow(job.header)
            writer.writerows(job.unprocessed_rows)
        return buffer.getvalue()
