"""Issue 7's end-to-end path, through the API only: devices, a push file, figures, opens."""

from __future__ import annotations

from tests.integration.api.conftest import Api, problem

IOS = "ef" * 32


def test_devices_upload_figures_inbox_and_a_push_open(api: Api) -> None:
    client = api.client()
    for ext, token in [("12345", IOS), ("12345", "fcm-a"), ("777", "fcm-b")]:
        assert client.post("/api/v1/devices", json={"token": token, "external_id": ext}).is_success
    data = b"ExternalID;Text;Deeplink\n12345;Hi\\nthere;app://x\n777;Second;\nghost;Nobody;\n"
    upload = client.post("/api/v1/imports", files={"file": ("news.csv", data)})
    assert upload.status_code == 202, upload.text
    import_id = upload.json()["id"]
    api.run_queue()  # a worker: process the file, then send the campaign
    shown = client.get(f"/api/v1/imports/{import_id}").json()
    assert shown["status"] == "done"
    msg_id = shown["campaign"]
    campaign = client.get(f"/api/v1/campaigns/{msg_id}").json()
    figures = campaign["figures"]
    assert (campaign["status"], figures["sent"], figures["unknown_user"]) == ("done", 3, 1)
    assert figures["clicked"] == 0
    inbox = client.get("/api/v1/users/12345/inbox").json()
    assert inbox["unread"] == 1
    [entry] = inbox["items"]
    assert (entry["text"], entry["status"]) == ("Hi\nthere", "unread")
    # the app reports the open with the id the push carried
    assert api.log is not None
    opened = next(m for m in api.log.messages if m.token == IOS)
    event = {"name": "push_opened", "external_id": "12345",
             "params": {"message_id": str(opened.message_id)}}  # fmt: skip
    assert client.post("/api/v1/events", json={"events": [event]}).is_success
    figures = client.get(f"/api/v1/campaigns/{msg_id}").json()["figures"]
    assert figures["clicked"] == 1
    inbox = client.get("/api/v1/users/12345/inbox").json()
    assert (inbox["unread"], inbox["items"][0]["status"]) == (0, "read")
    # and another app sees none of it
    other = api.client("beta")
    assert other.get(f"/api/v1/campaigns/{msg_id}").status_code == 404
    assert other.get(f"/api/v1/imports/{import_id}").status_code == 404
    assert other.get("/api/v1/users/12345").status_code == 404


def test_a_campaign_can_be_cancelled_by_its_app_only(api: Api) -> None:
    client = api.client()
    client.post("/api/v1/devices", json={"token": "fcm-z", "external_id": "9"})
    sent = client.post("/api/v1/push", json={"external_ids": ["9"], "text": "Later"}).json()
    problem(api.client("beta").post(f"/api/v1/campaigns/{sent['msg_id']}/cancel"), 404)
    done = client.post(f"/api/v1/campaigns/{sent['msg_id']}/cancel").json()
    assert done == {"msg_id": sent["msg_id"], "cancelled": 1}
    api.run_queue()
    campaign = client.get(f"/api/v1/campaigns/{sent['msg_id']}").json()
    assert (campaign["status"], campaign["figures"]["cancelled"]) == ("cancelled", 1)
    assert campaign["figures"]["sent"] == 0
    problem(client.post("/api/v1/campaigns/m-unknown/cancel"), 404)
