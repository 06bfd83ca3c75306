#!/usr/bin/env python3
"""A second, independent client of groupshard.v1.Inference, using grpcio.

Stubs are generated at start-up from proto/*.proto into a temporary
directory (protoc with grpc_python_plugin, or grpc_tools when installed).

  python_client.py --server 127.0.0.1:50051 generate --prompt "Hello" --max-tokens 16
  python_client.py --server ADDR info | health | list-services | describe SYMBOL
  python_client.py --server ADDR tokenize --text "Hello"

generate prints one JSON object: text, token_ids, finish_reason, usage.
list-services uses server reflection (grpc.reflection.v1alpha), spoken
directly on the wire so that no reflection package is needed.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import grpc
from google.protobuf import descriptor_pb2, json_format

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFLECTION_METHOD = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"


def generate_stubs(out_dir):
    proto_dir = os.path.join(ROOT, "proto")
    files = ["groupshard.proto", "health.proto"]
    plugin = shutil.which("grpc_python_plugin")
    if plugin:
        cmd = ["protoc", "-I", proto_dir, "--python_out=" + out_dir, "--grpc_python_out=" + out_dir,
               "--plugin=protoc-gen-grpc_python=" + plugin] + files
    else:
        cmd = [sys.executable, "-m", "grpc_tools.protoc", "-I", proto_dir, "--python_out=" + out_dir,
               "--grpc_python_out=" + out_dir] + files
    subprocess.run(cmd, check=True)
    sys.path.insert(0, out_dir)


def read_varint(buf, pos):
    value, shift = 0, 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def wire_fields(buf):
    """Yields (field number, value) of a protobuf message: ints or bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = read_varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = read_varint(buf, pos)
        elif wire == 2:
            n, pos = read_varint(buf, pos)
            value, pos = bytes(buf[pos:pos + n]), pos + n
        elif wire == 1:
            value, pos = bytes(buf[pos:pos + 8]), pos + 8
        elif wire == 5:
            value, pos = bytes(buf[pos:pos + 4]), pos + 4
        else:
            raise ValueError("unsupported wire type %d" % wire)
        yield field, value


def string_field(number, text):
    data = text.encode()
    out = bytearray([(number << 3) | 2])
    n = len(data)
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            break
    return bytes(out) + data


def reflection_call(channel, request):
    call = channel.stream_stream(REFLECTION_METHOD)
    responses = list(call(iter([request]), timeout=10))
    if len(responses) != 1:
        raise RuntimeError("expected one reflection response, got %d" % len(responses))
    return dict(wire_fields(responses[0]))


def list_services(channel):
    # ServerReflectionRequest.list_services = 7; response field 6 holds
    # ListServiceResponse { repeated ServiceResponse service = 1 { name = 1 } }.
    fields = reflection_call(channel, string_field(7, ""))
    if 7 in fields:
        raise RuntimeError("reflection error: %r" % fields[7])
    names = []
    for number, service in wire_fields(fields[6]):
        if number == 1:
            names.append(dict(wire_fields(service))[1].decode())
    return names


def describe(channel, symbol):
    # file_containing_symbol = 4; response field 4 holds FileDescriptorResponse
    # { repeated bytes file_descriptor_proto = 1 }.
    fields = reflection_call(channel, string_field(4, symbol))
    if 4 not in fields:
        raise RuntimeError("reflection could not find %s" % symbol)
    out = {}
    for number, blob in wire_fields(fields[4]):
        if number != 1:
            continue
        fd = descriptor_pb2.FileDescriptorProto.FromString(blob)
        for svc in fd.service:
            out[fd.package + "." + svc.name] = [m.name for m in svc.method]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", default="127.0.0.1:50051")
    ap.add_argument("--timeout", type=float, default=120.0)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--prompt", default="")
    g.add_argument("--prompt-ids", default="", help="comma-separated token ids")
    g.add_argument("--max-tokens", type=int)
    g.add_argument("--temperature", type=float, default=0.0)
    g.add_argument("--stop", action="append", default=[])
    g.add_argument("--ignore-eos", action="store_true")
    sub.add_parser("info")
    sub.add_parser("health")
    sub.add_parser("list-services")
    d = sub.add_parser("describe")
    d.add_argument("symbol")
    t = sub.add_parser("tokenize")
    t.add_argument("--text", required=True)
    args = ap.parse_args()

    stub_dir = tempfile.mkdtemp(prefix="gs_pystubs_")
    try:
        generate_stubs(stub_dir)
        import groupshard_pb2 as pb
        import groupshard_pb2_grpc as pb_grpc
        import health_pb2
        import health_pb2_grpc
        channel = grpc.insecure_channel(args.server)
        grpc.channel_ready_future(channel).result(timeout=10)
        stub = pb_grpc.InferenceStub(channel)
        if args.cmd == "generate":
            req = pb.GenerateRequest(request_id="python-client", prompt=args.prompt.encode(),
                                     stop=[s.encode() for s in args.stop], ignore_eos=args.ignore_eos)
            if args.prompt_ids:
                req.prompt_token_ids.extend(int(x) for x in args.prompt_ids.split(","))
            if args.max_tokens is not None:
                req.max_tokens = args.max_tokens
            req.sampling.temperature = args.temperature
            text, ids, last = "", [], None
            try:
                for msg in stub.Generate(req, timeout=args.timeout):
                    text += msg.text
                    ids.extend(msg.token_ids)
                    if msg.finish_reason != pb.FINISH_REASON_UNSPECIFIED:
                        last = msg
            except grpc.RpcError as e:
                print(json.dumps({"code": e.code().name, "details": e.details()}))
                return 1
            print(json.dumps({"text": text, "token_ids": ids,
                              "finish_reason": pb.FinishReason.Name(last.finish_reason),
                              "usage": json_format.MessageToDict(last.usage,
                                                                 preserving_proto_field_name=True)}))
        elif args.cmd == "info":
            info = stub.ModelInfo(pb.ModelInfoRequest(), timeout=args.timeout)
            print(json.dumps(json_format.MessageToDict(info, preserving_proto_field_name=True)))
        elif args.cmd == "health":
            health = health_pb2_grpc.HealthStub(channel)
            resp = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=args.timeout)
            print(health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status))
        elif args.cmd == "list-services":
            for name in list_services(channel):
                print(name)
        elif args.cmd == "describe":
            print(json.dumps(describe(channel, args.symbol)))
        elif args.cmd == "tokenize":
            resp = stub.Tokenize(pb.TokenizeRequest(text=args.text.encode(), add_special=True),
                                 timeout=args.timeout)
            print(json.dumps(list(resp.token_ids)))
        return 0
    finally:
        shutil.rmtree(stub_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
