from __future__ import annotations

from flask import url_for
from flask_smorest import Blueprint

from marketplace.apidoc import created, location_of, secured
from marketplace.catalogue import services
from marketplace.catalogue.schemas import (
    DepartmentCreate,
    DepartmentOut,
    ServiceItemCreate,
    ServiceItemOut,
    ServiceItemQuery,
)
from marketplace.schemas import PageQuery, page_headers

blp = Blueprint("catalogue_api", __name__, url_prefix="/api", description="Departments and service items")


@blp.get("/departments")
@blp.arguments(PageQuery, location="query")
@blp.response(200, DepartmentOut(many=True))
def department_list(args):
    """List departments (public)."""
    page = services.department_list(q=args["q"], page=args["page"], page_size=args["page_size"])
    return page.items, page_headers(page)


@blp.post("/departments")
@blp.arguments(DepartmentCreate)
@blp.response(201, DepartmentOut)
@blp.doc(**location_of("department_get", {"code": "code"}))
@secured(blp, "catalogue:write")
def department_create(actor, args):
    """Create a department (admins)."""
    department = services.department_create(actor, **args)
    return created(department, url_for("catalogue_api.department_get", code=department.code))


@blp.get("/departments/<code>")
@blp.response(200, DepartmentOut)
def department_get(code):
    """One department by code or id (public)."""
    return services.department_get(code)


@blp.get("/service-items")
@blp.arguments(ServiceItemQuery, location="query")
@blp.response(200, ServiceItemOut(many=True))
def service_item_list(args):
    """List service items with their guide (public)."""
    page = services.service_item_list(department_id=args["department_id"], q=args["q"], page=args["page"],
                                      page_size=args["page_size"])
    return page.items, page_headers(page)


@blp.post("/service-items")
@blp.arguments(ServiceItemCreate)
@blp.response(201, ServiceItemOut)
@blp.doc(**location_of("service_item_get", {"code": "code"}, "item_app_list"))
@secured(blp, "catalogue:write")
def service_item_create(actor, args):
    """Add a service item to a department (admins, or that department's staff)."""
    item = services.service_item_create(actor, **args)
    return created(item, url_for("catalogue_api.service_item_get", code=item.code))


@blp.get("/service-items/<code>")
@blp.response(200, ServiceItemOut)
def service_item_get(code):
    """One service item by code or id (public)."""
    return services.service_item_get(code)

