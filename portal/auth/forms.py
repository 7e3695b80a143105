from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from ..formfields import EmailAddress, choices
from ..i18n import LANGUAGES
from ..passwords import MAX_LENGTH, MIN_LENGTH


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=MAX_LENGTH)])
    next = HiddenField()


class ForgotForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), EmailAddress(), Length(max=254)])


class NewPasswordForm(FlaskForm):
    password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(min=MIN_LENGTH, max=MAX_LENGTH)]
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(), EqualTo("password", _l("The passwords differ."))],
    )


class AcceptInviteForm(NewPasswordForm):
    name = StringField(_l("Your name"), validators=[Length(max=120)])


class LanguageForm(FlaskForm):
    lang = SelectField(_l("Language"), choices=choices(LANGUAGES.items()))


class AccountForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=120)])
    locale = SelectField(_l("Language"), choices=choices([("", _l("Agency default")), *LANGUAGES.items()]))


class ChangePasswordForm(NewPasswordForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=MAX_LENGTH)])


class SecondFactorForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[DataRequired(), Length(max=32)],
        description=_l("The 6-digit code of your authenticator app, or one of your recovery codes."),
    )


class TwoFactorSetupForm(FlaskForm):
    code = StringField(_l("Code from the app"), validators=[DataRequired(), Length(max=32)])
    # Asked only when the session is not fresh (see auth.two_factor_setup): changing the second factor
    # needs a recent proof of the password.
    password = PasswordField(_l("Current password"), validators=[Length(max=MAX_LENGTH)])


class TwoFactorConfirmForm(FlaskForm):
    """Turning two-factor off or renewing the recovery codes: password and a current code again."""

    password = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=MAX_LENGTH)])
    code = StringField(
        _l("Code"),
        validators=[DataRequired(), Length(max=32)],
        description=_l("From your authenticator app, or a recovery code."),
    )
