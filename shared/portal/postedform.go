package portal

import (
	"net/http"
	"net/url"
	"strconv"

	"lockbox.dev/shared/lockbox"
)

// postedForm is the start of every form a signed-in person posts: the
// session, the form read (known fields, at most limit bytes; bad input is shown
// at back) and its form token checked. ok false: the answer is written.
func (p *Portal) postedForm(w http.ResponseWriter, r *http.Request, known params, limit int64, back string) (*session, url.Values, bool) {
	s, ok := p.signedIn(w, r)
	if !ok {
		return nil, nil, false
	}
	v, err := form(r, known, limit)
	if err != nil {
		p.failAs(w, r, s, err, back)
		return nil, nil, false
	}
	if !p.checkFormToken(w, r, s, v.Get(FormTokenField)) {
		return nil, nil, false
	}
	return s, v, true
}

// formVersion is the settings version a form was read at (its If-Match).
func formVersion(v url.Values) (int64, error) {
	version, err := strconv.ParseInt(v.Get("version"), 10, 64)
	if err != nil || version < 0 || len(v.Get("version")) > 19 {
		return 0, lockbox.Invalidf("the form's version is not valid; reload the page")
	}
	return version, nil
}
