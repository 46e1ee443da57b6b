"""A real MCP client (the official `mcp` Python SDK) for the end-to-end tests:
it connects to `codelake mcp` over stdio, or to `codelake serve`'s `/mcp` over
streamable HTTP, runs the steps it reads as JSON on standard input, and prints
one JSON object with every step's answer for the test to check.

    mcp_session.py stdio COMMAND [ARGS...] < steps.json
    mcp_session.py http URL TOKEN < steps.json

Each step is {"name": ..., "op": ...}; `op` is
- `tools`: tools/list, each tool's name, description and schemas, and whether
  its input and output schemas are valid JSON Schemas (jsonschema's check);
- `resources` / `templates`: resources/list, resources/templates/list;
- `read`: resources/read of `uri`;
- `call`: tools/call of `tool` with `arguments`.
A step that fails records {"error": "..."}; a session that cannot start
prints {"connect_error": "..."}.
"""

import asyncio
import json
import os
import sys

import httpx2
import jsonschema
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client


def dump(model):
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


async def step(session, step):
    op = step["op"]
    if op == "tools":
        tools = (await session.list_tools()).tools
        out = []
        for tool in tools:
            entry = dump(tool)
            for key in ("inputSchema", "outputSchema"):
                schema = entry.get(key)
                if schema is not None:
                    try:
                        jsonschema.validators.validator_for(schema).check_schema(schema)
                        entry[key + "Valid"] = True
                    except jsonschema.SchemaError as error:
                        entry[key + "Valid"] = str(error)
            out.append(entry)
        return out
    if op == "resources":
        return dump(await session.list_resources())
    if op == "templates":
        return dump(await session.list_resource_templates())
    if op == "read":
        return dump(await session.read_resource(step["uri"]))
    if op == "call":
        return dump(await session.call_tool(step["tool"], step.get("arguments", {})))
    raise ValueError(f"unknown op {op}")


async def run(session, steps):
    init = await session.initialize()
    answers = {"initialize": dump(init)}
    for each in steps:
        try:
            answers[each["name"]] = await step(session, each)
        except Exception as error:  # the message is what the test checks
            answers[each["name"]] = {"error": f"{type(error).__name__}: {error}"}
    return answers


async def main():
    steps = json.load(sys.stdin)
    mode = sys.argv[1]
    try:
        if mode == "stdio":
            params = StdioServerParameters(command=sys.argv[2], args=sys.argv[3:], env=dict(os.environ))
            # The server's standard error (warnings, its start line) goes to ours.
            async with stdio_client(params, errlog=sys.stderr) as (read, write):
                async with ClientSession(read, write) as session:
                    answers = await run(session, steps)
        else:
            url, token = sys.argv[2], sys.argv[3]
            client = httpx2.AsyncClient(
                headers={"Authorization": f"Bearer {token}"},
                timeout=httpx2.Timeout(60.0),
            )
            async with client:
                async with streamable_http_client(url, http_client=client) as (read, write, *_):
                    async with ClientSession(read, write) as session:
                        answers = await run(session, steps)
    except BaseException as error:  # an exception group from the transport's task group
        answers = {"connect_error": describe(error)}
    print(json.dumps(answers))


def describe(error):
    """An error's message, with those of an exception group's members."""
    inner = getattr(error, "exceptions", None)
    if inner:
        return "; ".join(describe(each) for each in inner)
    return f"{type(error).__name__}: {error}"


if __name__ == "__main__":
    asyncio.run(main())
