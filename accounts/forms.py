from django import forms
from django.contrib.auth.forms import AuthenticationForm

from accounts.models import USERNAME_PATTERN, USERNAME_RULE


def username_field(**kwargs) -> forms.RegexField:
    return forms.RegexField(
        regex=USERNAME_PATTERN,
        max_length=32,
        help_text="2 to 32 letters, digits and @ . + - _",
        error_messages={"invalid": USERNAME_RULE},
        **kwargs,
    )


class PasswordPairForm(forms.Form):
    """A password typed twice."""

    password = forms.CharField(widget=forms.PasswordInput, strip=False)
    password_again = forms.CharField(
        widget=forms.PasswordInput, strip=False, label="Password (again)"
    )

    def clean(self) -> dict:
        data = super().clean()
        if data.get("password") != data.get("password_again"):
            self.add_error("password_again", "The two passwords differ.")
        return data


class RegisterForm(PasswordPairForm):
    username = username_field()
    email = forms.EmailField(
        required=False,
        help_text="Optional; the only way to reset a forgotten password.",
    )
    field_order = ["username", "email", "password", "password_again"]


class LoginForm(AuthenticationForm):
    pass


class TeamCreateForm(forms.Form):
    name = forms.CharField(max_length=64, label="Team name")


class TeamJoinForm(forms.Form):
    code = forms.CharField(max_length=32, label="Invite code")


class CurrentPasswordForm(forms.Form):
    """A change of email or password asks for the current password first."""

    current_password = forms.CharField(
        widget=forms.PasswordInput, strip=False, label="Current password"
    )

    def __init__(self, user, *args, **kwargs) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_current_password(self) -> str:
        password = self.cleaned_data["current_password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your current password.")
        return password


class NameForm(forms.Form):
    username = username_field(label="Display name")


class EmailForm(CurrentPasswordForm):
    email = forms.EmailField(
        required=False, help_text="Where password-reset links go; empty for none."
    )


class PasswordForm(CurrentPasswordForm, PasswordPairForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["password"].label = "New password"
        self.fields["password_again"].label = "New password (again)"
