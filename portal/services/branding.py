"""An agency's white-label branding: name, colours, footer, support address, language, logo and favicon.

Uploaded images are checked by content, never by file name or the browser's content type: Pillow must decode
them as one of the allowed raster formats, within size and pixel limits. SVG is refused outright (it can carry
script). Every change bumps `branding_version`, so the cache-busting `/brand/logo?v=N` URLs change with it.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from PIL import Image, UnidentifiedImageError

from ..formfields import HEX_COLOUR
from ..i18n import LANGUAGES
from ..models import Agency, User
from . import DomainError
from .audit import record

MAX_DIMENSION = 2000  # pixels per side; also stops decompression bombs before anything is decoded


@dataclass(frozen=True)
class ImageRule:
    label: object  # lazy string naming the field in error messages
    max_bytes: int
    formats: dict[str, str]  # Pillow format → MIME type served back


LOGO = ImageRule(
    _l("Logo"),
    512 * 1024,
    {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"},
)
FAVICON = ImageRule(_l("Favicon"), 128 * 1024, {"PNG": "image/png", "ICO": "image/x-icon"})


class ImageRejected(DomainError):
    """An upload that is not an acceptable image; the message names the field and the reason."""


def _reject(rule: ImageRule, reason: str) -> ImageRejected:
    return ImageRejected(_("%(field)s: %(reason)s", field=rule.label, reason=reason))


def _looks_like_markup(data: bytes) -> bool:
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<", b"<?xml")) or b"<svg" in data[:4096].lower()


def check_image(rule: ImageRule, data: bytes) -> str:
    """Return the MIME type of an acceptable image, or raise `ImageRejected` saying why not."""
    if not data:
        raise _reject(rule, _("the file is empty."))
    if len(data) > rule.max_bytes:
        raise _reject(
            rule,
            _(
                "the file is %(size)s KB; the limit is %(limit)s KB.",
                size=(len(data) + 1023) // 1024,
                limit=rule.max_bytes // 1024,
            ),
        )
    allowed = ", ".join(sorted(rule.formats))
    if _looks_like_markup(data):
        raise _reject(
            rule, _("SVG and other markup files are not accepted. Use %(formats)s.", formats=allowed)
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # `formats` limits the decoders Pillow even tries to the allowed ones.
            with Image.open(io.BytesIO(data), formats=list(rule.formats)) as img:
                fmt, (width, height) = img.format, img.size
                if width > MAX_DIMENSION or height > MAX_DIMENSION:
                    raise _reject(
                        rule,
                        _(
                            "the image is %(w)s×%(h)s pixels; the limit is %(max)s×%(max)s.",
                            w=width,
                            h=height,
                            max=MAX_DIMENSION,
                        ),
                    )
                img.verify()  # structural check without decoding the pixels
    except ImageRejected:
        raise
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
    ) as exc:
        raise _reject(rule, _("the file is not a valid image. Use %(formats)s.", formats=allowed)) from exc
    if fmt not in rule.formats:
        raise _reject(rule, _("the file is not a valid image. Use %(formats)s.", formats=allowed))
    return rule.formats[fmt]


def _changed(agency: Agency, actor: User, **details) -> None:
    agency.branding_version = (agency.branding_version or 1) + 1
    record("branding.updated", actor=actor, agency_id=agency.id, target=agency.slug, **details)


def update_branding(
    *,
    actor: User,
    agency: Agency,
    name: str,
    primary_color: str,
    accent_color: str,
    footer_text: str,
    support_email: str,
    default_locale: str,
) -> bool:
    """Apply the text settings; returns whether anything changed (and was audited)."""
    name = name.strip()
    if not name:
        raise DomainError(_("The agency needs a name."))
    for colour in (primary_color, accent_color):
        if not HEX_COLOUR.match(colour or ""):
            raise DomainError(_("Use a colour like #2458d6."))
    if default_locale not in LANGUAGES:
        raise DomainError(_("Choose one of the offered languages."))
    changes = {}
    for attr, value in (
        ("name", name),
        ("primary_color", primary_color.lower()),
        ("accent_color", accent_color.lower()),
        ("footer_text", footer_text.strip()),
        ("support_email", support_email.strip()),
        ("default_locale", default_locale),
    ):
        if (getattr(agency, attr) or "") != value:
            changes[attr] = f"{getattr(agency, attr) or ''} → {value}"
            setattr(agency, attr, value)
    if changes:
        _changed(agency, actor, **changes)
    return bool(changes)


def set_logo(*, actor: User, agency: Agency, data: bytes) -> None:
    mime = check_image(LOGO, data)
    agency.logo_data, agency.logo_mime = data, mime
    _changed(agency, actor, logo=f"{mime}, {len(data)} bytes")


def remove_logo(*, actor: User, agency: Agency) -> None:
    if agency.logo_mime is None:
        return
    agency.logo_data, agency.logo_mime = None, None
    _changed(agency, actor, logo="removed")


def set_favicon(*, actor: User, agency: Agency, data: bytes) -> None:
    mime = check_image(FAVICON, data)
    agency.favicon_data, agency.favicon_mime = data, mime
    _changed(agency, actor, favicon=f"{mime}, {len(data)} bytes")


def remove_favicon(*, actor: User, agency: Agency) -> None:
    if agency.favicon_mime is None:
        return
    agency.favicon_data, agency.favicon_mime = None, None
    _changed(agency, actor, favicon="removed")
