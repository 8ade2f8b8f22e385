"""A fake Antminer on 127.0.0.1 speaking the cgminer/bmminer API over TCP.

Like the real thing: one JSON command per connection (``{"command": "summary"}``), one
reply, a NUL byte, then the connection is closed. ``flavor="bmminer"`` answers like an
Antminer S9 (hashrates in GH/s as strings, per-chain figures in ``stats``, the ``}{``
between ``STATS`` objects that breaks strict JSON parsers, ``devs`` refused as an invalid
command); ``flavor="cgminer"`` answers with MHS figures and per-board ``devs``. ``hang``
accepts connections and never answers; ``deny`` answers every command with the
"Access denied" status a miner gives hosts outside its api-allow list.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from typing import Any


def _status(code: int, msg: str, description: str = "bmminer 1.0.0") -> list[dict[str, Any]]:
    return [
        {
            "STATUS": "S",
            "When": int(time.time()),
            "Code": code,
            "Msg": msg,
            "Description": description,
        }
    ]


class FakeRig:
    def __init__(self, flavor: str = "bmminer") -> None:
        self.flavor = flavor
        self.hang = False
        self.deny = False
        self.garbage = False
        self.nul = True
        self.elapsed = 86_400
        self.ghs_5s: Any = "13512.34"
        self.ghs_av: Any = 13498.02
        self.accepted, self.rejected, self.stale = 40_000, 120, 3
        self.diff_accepted, self.diff_rejected, self.diff_stale = 655_360_000.0, 1_966_080.0, 0.0
        self.hardware_errors = 35
        self.dead_board: int | None = None
        self.power_w: float | None = None
        self.commands: list[str] = []
        self._stop = threading.Event()
        fake = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                sock.settimeout(5)
                data = b""
                while True:
                    try:
                        chunk = sock.recv(4096)
                    except TimeoutError:
                        return
                    if not chunk:
                        break
                    data += chunk
                    try:
                        request = json.loads(data)
                        break
                    except ValueError:
                        continue
                else:  # pragma: no cover
                    return
                command = request.get("command", "")
                fake.commands.append(command)
                if fake.hang:
                    fake._stop.wait(30)
                    return
                sock.sendall(fake.reply(command) + (b"\x00" if fake.nul else b""))

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def __enter__(self) -> FakeRig:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    # -- replies -------------------------------------------------------------------------
    def reply(self, command: str) -> bytes:
        if self.garbage:
            return b"<html>502 Bad Gateway</html>"
        if self.deny:
            doc = {
                "STATUS": [
                    {
                        "STATUS": "E",
                        "When": 0,
                        "Code": 45,
                        "Msg": "Access denied to 'summary' command",
                        "Description": "bmminer 1.0.0",
                    }
                ],
                "id": 1,
            }
            return json.dumps(doc).encode()
        handler = getattr(self, f"_{command}", None)
        if handler is None:
            doc = {
                "STATUS": [
                    {
                        "STATUS": "E",
                        "When": 0,
                        "Code": 14,
                        "Msg": "Invalid command",
                        "Description": "bmminer 1.0.0",
                    }
                ],
                "id": 1,
            }
            return json.dumps(doc).encode()
        return handler()

    def _version(self) -> bytes:
        doc = {
            "STATUS": _status(22, "BMMiner versions"),
            "VERSION": [
                {"BMMiner": "1.0.0", "API": "3.1", "Miner": "16.8.1.3", "Type": "Antminer S9"}
            ],
            "id": 1,
        }
        return json.dumps(doc).encode()

    def _summary(self) -> bytes:
        row: dict[str, Any] = {
            "Elapsed": self.elapsed,
            "Accepted": self.accepted,
            "Rejected": self.rejected,
            "Stale": self.stale,
            "Hardware Errors": self.hardware_errors,
            "Difficulty Accepted": self.diff_accepted,
            "Difficulty Rejected": self.diff_rejected,
            "Difficulty Stale": self.diff_stale,
            "Best Share": 1_234_567,
            "Device Rejected%": 0.29,
        }
        if self.flavor == "bmminer":
            row.update({"GHS 5s": self.ghs_5s, "GHS av": self.ghs_av})
        else:
            row.update({"MHS 5s": float(self.ghs_5s) * 1000, "MHS av": float(self.ghs_av) * 1000})
        doc = {"STATUS": _status(11, "Summary"), "SUMMARY": [row], "id": 1}
        return json.dumps(doc).encode()

    def _stats(self) -> bytes:
        header = {
            "BMMiner": "1.0.0",
            "Miner": "16.8.1.3",
            "CompileTime": "Fri Nov 17 2017",
            "Type": "Antminer S9",
        }
        chains: dict[str, Any] = {
            "STATS": 0,
            "ID": "BC50",
            "Elapsed": self.elapsed,
            "fan_num": 2,
            "fan1": 0,
            "fan3": 5880,
            "fan6": 6120,
            "temp_num": 3,
            "temp1": 0,
        }
        for n in (6, 7, 8):
            dead = self.dead_board == n
            chains.update(
                {
                    f"temp{n}": 0 if dead else 60 + n - 6,
                    f"temp2_{n}": 0 if dead else 76 + 2 * (n - 6),
                    f"chain_acn{n}": 63,
                    f"chain_acs{n}": " " + ("xxxxxxxx " * 8 if dead else "oooooooo " * 8).strip(),
                    f"chain_hw{n}": 10 + n,
                    f"chain_rate{n}": "0.00" if dead else f"{4500 + n:.2f}",
                }
            )
        if self.power_w is not None:
            chains["Power"] = f"{self.power_w:.0f} W"
        if self.flavor == "bmminer":  # the real firmware's missing comma between objects
            body = json.dumps(header) + json.dumps(chains)
            text = (
                '{"STATUS":'
                + json.dumps(_status(70, "BMMiner stats"))
                + ',"STATS":['
                + body
                + '],"id":1}'
            )
            return text.encode()
        doc = {"STATUS": _status(70, "CGMiner stats"), "STATS": [header, chains], "id": 1}
        return json.dumps(doc).encode()

    def _pools(self) -> bytes:
        pools = [
            {
                "POOL": 0,
                "URL": "stratum+tcp://btc.viabtc.com:3333",
                "Status": "Alive",
                "Priority": 0,
                "Accepted": self.accepted,
                "Rejected": self.rejected,
                "Stale": self.stale,
                "Stratum Active": True,
            },
            {
                "POOL": 1,
                "URL": "stratum+tcp://stratum.braiins.com:3333",
                "Status": "Dead",
                "Priority": 1,
                "Accepted": 0,
                "Rejected": 0,
                "Stale": 0,
                "Stratum Active": False,
            },
        ]
        return json.dumps({"STATUS": _status(7, "2 Pool(s)"), "POOLS": pools, "id": 1}).encode()

    def _devs(self) -> bytes:
        if self.flavor == "bmminer":
            return self.reply("__invalid__")
        devs = []
        for n in range(3):
            dead = self.dead_board == n
            devs.append(
                {
                    "ASC": n,
                    "Name": "BTM",
                    "ID": n,
                    "Enabled": "Y",
                    "Status": "Dead" if dead else "Alive",
                    "Temperature": 0.0 if dead else 70.0 + n,
                    "MHS 5s": 0.0 if dead else 4_500_000.0,
                    "MHS av": 0.0 if dead else 4_499_000.0,
                    "Hardware Errors": 5 + n,
                }
            )
        return json.dumps({"STATUS": _status(9, "3 ASC(s)"), "DEVS": devs, "id": 1}).encode()
