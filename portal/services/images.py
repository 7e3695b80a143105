"""The client's image library: validated uploads served publicly (by the mailpublic blueprint) for email.

An upload is checked by its content, never by its name or declared type: Pillow must recognise it as PNG,
JPEG, GIF or WebP (so no SVG, no HTML, no polyglot with another declared type), within size limits.
"""

from __future__ import annotations

import io
import secrets
import warnings

from PIL import Image, UnidentifiedImageError
from sqlalchemy import select

from ..extensions import db
from ..models import Client, ImageAsset, User
from . import DomainError, NotFound
from .audit import record
from .i18n_safe import _

MAX_BYTES = 2 * 1024 * 1024
MAX_SIDE = 4000
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


def list_images() -> list[ImageAsset]:
    return list(
        db.session.scalars(select(ImageAsset).order_by(ImageAsset.created_at.desc(), ImageAsset.id.desc()))
    )


def get_image(image_id: int) -> ImageAsset:
    img = db.session.scalar(select(ImageAsset).where(ImageAsset.id == image_id))
    if img is None:
        raise NotFound("image")
    return img


def inspect_image(data: bytes) -> tuple[str, int, int]:
    """(mime, width, height) of an acceptable image, or DomainError saying what is wrong."""
    if not data:
        raise DomainError(_("The file is empty."))
    if len(data) > MAX_BYTES:
        raise DomainError(_("Images can be at most 2 MB."))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                fmt, (width, height) = im.format, im.size
                if fmt not in FORMATS:
                    raise DomainError(_("Upload a PNG, JPEG, GIF or WebP image."))
                if width > MAX_SIDE or height > MAX_SIDE:
                    raise DomainError(_("Images can be at most 4000 × 4000 pixels."))
                im.verify()  # structure check without decoding every pixel
    except DomainError:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise DomainError(_("This file is not an image we can use (PNG, JPEG, GIF or WebP).")) from exc
    return FORMATS[fmt], width, height


def upload(*, actor: User | None, client: Client, filename: str, data: bytes) -> ImageAsset:
    mime, width, height = inspect_image(data)
    name = (filename or "image").replace("\\", "/").rsplit("/", 1)[-1].strip()[:200] or "image"
    img = ImageAsset(
        agency_id=client.agency_id,
        client_id=client.id,
        token=secrets.token_hex(16),
        name=name,
        mime=mime,
        width=width,
        height=height,
        data=data,
    )
    db.session.add(img)
    db.session.flush()
    record("image.uploaded", actor=actor, agency_id=client.agency_id, client_id=client.id, target=name)
    return img


def delete_image(*, actor: User | None, client: Client, image: ImageAsset) -> None:
    name = image.name
    db.session.delete(image)
    db.session.flush()
    record("image.deleted", actor=actor, agency_id=client.agency_id, client_id=client.id, target=name)
