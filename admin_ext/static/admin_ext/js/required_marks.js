// A red asterisk before every required field of jazzmin's password forms: jazzmin
// 3.0.5 does this in an inline script (admin/auth/user/change_password.html,
// registration/password_change_form.html), which CONTENT_SECURITY_POLICY refuses.
window.jQuery('[required]').before('<span class="text-red" style="margin-left: -10px;">* </span>');
