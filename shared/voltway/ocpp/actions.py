"""The OCPP 1.6 actions (the ``Action`` of a CALL): the values the specification names, with the member
names of the ``ocpp`` package's ``ocpp.v16.enums.Action`` (a test keeps the two equal).

Why our own: importing anything under ``ocpp.v16`` runs that package's ``__init__``, which imports the
package's ChargePoint and, through it, jsonschema — about 0.4-0.5 s of every cold start of the charger
functions on this machine, for a list of names. The central system uses the ``ocpp`` wheel only for its
JSON schemas (read as files, voltway.ocpp.schemas); the simulator and the tests use its client.
"""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    authorize = "Authorize"
    boot_notification = "BootNotification"
    cancel_reservation = "CancelReservation"
    certificate_signed = "CertificateSigned"
    change_availability = "ChangeAvailability"
    change_configuration = "ChangeConfiguration"
    clear_cache = "ClearCache"
    clear_charging_profile = "ClearChargingProfile"
    data_transfer = "DataTransfer"
    delete_certificate = "DeleteCertificate"
    diagnostics_status_notification = "DiagnosticsStatusNotification"
    extended_trigger_message = "ExtendedTriggerMessage"
    firmware_status_notification = "FirmwareStatusNotification"
    get_composite_schedule = "GetCompositeSchedule"
    get_configuration = "GetConfiguration"
    get_diagnostics = "GetDiagnostics"
    get_installed_certificate_ids = "GetInstalledCertificateIds"
    get_local_list_version = "GetLocalListVersion"
    get_log = "GetLog"
    heartbeat = "Heartbeat"
    install_certificate = "InstallCertificate"
    log_status_notification = "LogStatusNotification"
    meter_values = "MeterValues"
    remote_start_transaction = "RemoteStartTransaction"
    remote_stop_transaction = "RemoteStopTransaction"
    reserve_now = "ReserveNow"
    reset = "Reset"
    security_event_notification = "SecurityEventNotification"
    send_local_list = "SendLocalList"
    set_charging_profile = "SetChargingProfile"
    sign_certificate = "SignCertificate"
    signed_firmware_status_notification = "SignedFirmwareStatusNotification"
    signed_update_firmware = "SignedUpdateFirmware"
    start_transaction = "StartTransaction"
    status_notification = "StatusNotification"
    stop_transaction = "StopTransaction"
    trigger_message = "TriggerMessage"
    unlock_connector = "UnlockConnector"
    update_firmware = "UpdateFirmware"
