from django import forms
from django.contrib.auth.forms import AuthenticationForm


class RegisterForm(forms.Form):
    username = forms.RegexField(
        regex=r"^[\w.@+-]{2,32}$",
        max_length=32,
        help_text="2 to 32 letters, digits and @ . + - _",
        error_messages={"invalid": "Use 2 to 32 letters, digits and @ . + - _ only."},
    )
    email = forms.EmailField(required=False, help_text="Optional; for password resets.")
    password = forms.CharField(widget=forms.PasswordInput, strip=False)
    password_again = forms.CharField(
        widget=forms.PasswordInput, strip=False, label="Password (again)"
    )

    def clean(self) -> dict:
        data = super().clean()
        if data.get("password") != data.get("password_again"):
            self.add_error("password_again", "The two passwords differ.")
        return data


class LoginForm(AuthenticationForm):
    pass


class TeamCreateForm(forms.Form):
    name = forms.CharField(max_length=64, label="Team name")


class TeamJoinForm(forms.Form):
    code = forms.CharField(max_length=32, label="Invite code")
