def test_openapi_document_lists_every_api(client):
    spec = client.get("/api/openapi.json").json
    paths = spec["paths"]
    for path in ("/api/orders", "/api/orders/{order_id}/publish", "/api/apps/{app_id}/versions", "/api/audit",
                 "/api/vendors", "/api/departments", "/api/me"):
        assert path in paths, path
    assert "oauth2" in spec["components"]["securitySchemes"]


def test_world_builds_and_vendor_lists_open_orders(world):
    response = world.call("vendor_a", "GET", "/api/orders")
    assert response.status_code == 200, response.json
    slugs = {o["slug"] for o in response.json}
    assert slugs == {"order-a", "order-b"}
    assert "X-Pagination" in response.headers
