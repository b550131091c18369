"""Signed model envelopes: how a residual travels to a running robot.

An envelope is ``MAGIC``, a 4-byte big-endian header length, a JSON header and the ONNX bytes:

    {"version": "...", "sha256": "<hex of the ONNX bytes>", "size": n, "signature": "<hex ed25519>"}

The signature covers ``rpl_ros-model/<version>/<sha256>``, so neither the bytes nor the version can be
changed without the trainer's private key. ``open_envelope`` refuses anything it cannot vouch for and says
why; it never returns unverified bytes.
"""
import hashlib
import json
import struct
from pathlib import Path
from typing import Tuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MAGIC = b"RPLMODEL1\n"
DEFAULT_MAX_BYTES = 16 * 1024 * 1024


class EnvelopeError(ValueError):
    """An envelope that must not be opened: malformed, truncated, tampered with, unsigned or wrongly signed."""


def signed_message(version: str, sha256: str) -> bytes:
    return f"rpl_ros-model/{version}/{sha256}".encode()


def seal(model_bytes: bytes, version: str, private_key: Ed25519PrivateKey) -> bytes:
    digest = hashlib.sha256(model_bytes).hexdigest()
    header = {"version": str(version), "sha256": digest, "size": len(model_bytes),
              "signature": private_key.sign(signed_message(str(version), digest)).hex()}
    header_bytes = json.dumps(header).encode()
    return MAGIC + struct.pack(">I", len(header_bytes)) + header_bytes + model_bytes


def open_envelope(data: bytes, trusted_key: Ed25519PublicKey, max_bytes: int = DEFAULT_MAX_BYTES) -> Tuple[str, bytes]:
    """(version, ONNX bytes) of a verified envelope, or EnvelopeError saying why not."""
    if len(data) > max_bytes:
        raise EnvelopeError(f"envelope is {len(data)} bytes, over the limit of {max_bytes}")
    if not data.startswith(MAGIC):
        raise EnvelopeError("not an rpl_ros model envelope (a bare ONNX file must be sealed with `rpl-ros push-model`)")
    start = len(MAGIC) + 4
    if len(data) < start:
        raise EnvelopeError("envelope is truncated in its header")
    (header_size,) = struct.unpack(">I", data[len(MAGIC):start])
    try:
        header = json.loads(data[start:start + header_size])
        version, digest, size = str(header["version"]), header["sha256"], int(header["size"])
    except (ValueError, KeyError, TypeError):
        raise EnvelopeError("envelope header is malformed or truncated") from None
    model_bytes = data[start + header_size:]
    if len(model_bytes) != size:
        raise EnvelopeError(f"envelope carries {len(model_bytes)} model bytes, its header says {size}: truncated")
    if hashlib.sha256(model_bytes).hexdigest() != digest:
        raise EnvelopeError("model bytes do not match the envelope's sha256")
    signature = header.get("signature")
    if not signature:
        raise EnvelopeError("model is unsigned")
    try:
        trusted_key.verify(bytes.fromhex(signature), signed_message(version, digest))
    except (InvalidSignature, ValueError):
        raise EnvelopeError("signature does not verify with the trusted key") from None
    return version, model_bytes


def generate_keypair(directory: Path, name: str = "rpl_model") -> Tuple[Path, Path]:
    """Write ``<name>.key`` (private, PEM, mode 0600) and ``<name>.pub`` (public, PEM) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private_path, public_path = directory / f"{name}.key", directory / f"{name}.pub"
    private_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    private_path.chmod(0o600)
    public_path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))
    return private_path, public_path


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an ed25519 public key")
    return key
