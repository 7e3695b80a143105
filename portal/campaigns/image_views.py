"""The image library: upload (validated by content), list with public URLs, delete."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..extensions import db
from ..guards import roles_required
from ..links import absolute
from ..services import DomainError, NotFound
from ..services import images as svc
from . import WRITERS, bp
from .forms import ImageForm


def _actor():
    return current_user._get_current_object()


def public_url(token: str) -> str:
    """Served by the mailpublic blueprint on the agency's canonical domain (never the request's host)."""
    return absolute(g.agency, f"/img/{token}")


@bp.route("/images", methods=["GET", "POST"])
def images():
    form = ImageForm()
    status = 200
    if form.is_submitted():
        if not (g.get("acting_as_client") or current_user.role in WRITERS):
            abort(403)
        if form.validate():
            upload = form.image.data
            data = upload.read(svc.MAX_BYTES + 1)
            try:
                img = svc.upload(actor=_actor(), client=g.client, filename=upload.filename or "", data=data)
            except DomainError as exc:
                db.session.rollback()
                form.image.errors.append(str(exc))
                status = 400
            else:
                db.session.commit()
                flash(_("%(name)s is in your library.", name=img.name), "success")
                return redirect(url_for("campaigns.images"))
        else:
            status = 400
    return render_template(
        "campaigns/images.html", form=form, images=svc.list_images(), public_url=public_url
    ), status


@bp.route("/images/<int:image_id>/delete", methods=["POST"])
@roles_required(*WRITERS)
def delete_image(image_id: int):
    try:
        img = svc.get_image(image_id)
    except NotFound:
        abort(404)
    name = img.name
    svc.delete_image(actor=_actor(), client=g.client, image=img)
    db.session.commit()
    flash(_("%(name)s is deleted. Campaigns that use it show a broken image.", name=name), "warning")
    return redirect(url_for("campaigns.images"))
