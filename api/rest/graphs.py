"""REST handlers of behavior graphs, tags, data source packages and the organization (thin:
input → api.services.membership_graphs → Detective's output shapes)."""

from __future__ import annotations

from typing import Any

from api.rest.protocol import Call, iso
from api.services import membership, membership_graphs
from api.services.membership_checks import page


def _paged(out: dict[str, Any], token: str | None) -> dict[str, Any]:
    if token:
        out["NextToken"] = token
    return out


def create_graph(c: Call) -> dict[str, Any]:
    info = membership_graphs.create_graph(
        store=c.store, caller=c.caller, region=c.region, tags=c.params.get("Tags"), now=c.now
    )
    return {"GraphArn": info.arn}


def delete_graph(c: Call) -> None:
    membership_graphs.delete_graph(store=c.store, caller=c.caller, arn=c.params["GraphArn"])


def list_graphs(c: Call) -> dict[str, Any]:
    graphs = membership_graphs.list_graphs(store=c.store, caller=c.caller, region=c.region)
    chunk, token = page(
        graphs,
        lambda g: g.arn,
        token=c.params.get("NextToken"),
        max_results=c.params.get("MaxResults"),
    )
    listed = [{"Arn": g.arn, "CreatedTime": iso(g.created)} for g in chunk]
    return _paged({"GraphList": listed}, token)


def tag_resource(c: Call) -> None:
    membership_graphs.tag_resource(
        store=c.store, caller=c.caller, arn=c.params["ResourceArn"], tags=c.params["Tags"]
    )


def untag_resource(c: Call) -> None:
    membership_graphs.untag_resource(
        store=c.store, caller=c.caller, arn=c.params["ResourceArn"], keys=c.params["TagKeys"]
    )


def list_tags_for_resource(c: Call) -> dict[str, Any]:
    tags = membership_graphs.list_tags(store=c.store, caller=c.caller, arn=c.params["ResourceArn"])
    return {"Tags": tags}


def list_datasource_packages(c: Call) -> dict[str, Any]:
    states = membership_graphs.list_datasource_packages(
        store=c.store, caller=c.caller, arn=c.params["GraphArn"]
    )
    names, token = page(
        sorted(states),
        lambda p: p,
        token=c.params.get("NextToken"),
        max_results=c.params.get("MaxResults"),
    )
    packages = {
        p: {
            "DatasourcePackageIngestState": states[p].state,
            "LastIngestStateChange": {
                state: {"Timestamp": iso(ts)} for state, ts in states[p].changed.items()
            },
        }
        for p in names
    }
    return _paged({"DatasourcePackages": packages}, token)


def update_datasource_packages(c: Call) -> None:
    membership_graphs.update_datasource_packages(
        store=c.store,
        caller=c.caller,
        arn=c.params["GraphArn"],
        packages=c.params["DatasourcePackages"],
        settings=c.settings,
        now=c.now,
    )


def enable_organization_admin_account(c: Call) -> None:
    membership_graphs.enable_org_admin(
        store=c.store,
        caller=c.caller,
        account=c.params["AccountId"],
        region=c.region,
        settings=c.settings,
        now=c.now,
    )


def disable_organization_admin_account(c: Call) -> None:
    membership_graphs.disable_org_admin(
        store=c.store, caller=c.caller, region=c.region, settings=c.settings
    )


def list_organization_admin_accounts(c: Call) -> dict[str, Any]:
    admins = membership_graphs.list_org_admins(
        store=c.store, caller=c.caller, region=c.region, settings=c.settings
    )
    chunk, token = page(
        admins,
        lambda a: a.account_id,
        token=c.params.get("NextToken"),
        max_results=c.params.get("MaxResults"),
    )
    listed = [
        {"AccountId": a.account_id, "GraphArn": a.graph, "DelegationTime": iso(a.delegated_at)}
        for a in chunk
    ]
    return _paged({"Administrators": listed}, token)


def describe_organization_configuration(c: Call) -> dict[str, Any]:
    auto = membership_graphs.describe_org_config(
        store=c.store, caller=c.caller, arn=c.params["GraphArn"]
    )
    return {"AutoEnable": auto}


def update_organization_configuration(c: Call) -> None:
    membership.update_org_config(
        store=c.store,
        caller=c.caller,
        graph=c.params["GraphArn"],
        auto_enable=bool(c.params.get("AutoEnable", False)),
        settings=c.settings,
        now=c.now,
    )


HANDLERS = {
    "CreateGraph": create_graph,
    "DeleteGraph": delete_graph,
    "ListGraphs": list_graphs,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
    "ListDatasourcePackages": list_datasource_packages,
    "UpdateDatasourcePackages": update_datasource_packages,
    "EnableOrganizationAdminAccount": enable_organization_admin_account,
    "DisableOrganizationAdminAccount": disable_organization_admin_account,
    "ListOrganizationAdminAccounts": list_organization_admin_accounts,
    "DescribeOrganizationConfiguration": describe_organization_configuration,
    "UpdateOrganizationConfiguration": update_organization_configuration,
}
