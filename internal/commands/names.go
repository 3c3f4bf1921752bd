package commands

import (
	"context"
	"strings"

	"github.com/smart-impulse/smartx/internal/client"
)

// siteNameMap turns site ids into names for people reading a listing: one list request for
// the whole table, never one per row.
type siteNameMap map[string]string

// siteNames lists the sites the token may see. A failure leaves the map empty: names are a
// help to the reader, and the ids are printed instead.
func siteNames(ctx context.Context, c *client.Client) siteNameMap {
	sites, err := c.Sites(ctx, "")
	if err != nil {
		return siteNameMap{}
	}
	m := make(siteNameMap, len(sites))
	for _, s := range sites {
		m[s.ID] = s.Name
	}
	return m
}

// name returns the site's name, or "" when it is not known.
func (m siteNameMap) name(id string) string { return m[id] }

// label returns the site's name, or its id when the name is not known.
func (m siteNameMap) label(id string) string {
	if n := m[id]; n != "" {
		return n
	}
	return id
}

// labels joins the labels of several sites; none means every site.
func (m siteNameMap) labels(ids []string) string {
	if len(ids) == 0 {
		return "all"
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = m.label(id)
	}
	return strings.Join(out, ", ")
}

// userEmailMap turns user ids into e-mails, from one request; ids it does not know are printed
// as they are.
type userEmailMap map[string]string

// userEmails lists the account's users when others than the caller are to be named
// (everyone: it needs the admin scope), else asks who the token speaks for.
func userEmails(ctx context.Context, c *client.Client, everyone bool) userEmailMap {
	if everyone {
		if users, err := c.Users(ctx); err == nil {
			m := make(userEmailMap, len(users))
			for _, u := range users {
				m[u.ID] = u.Email
			}
			return m
		}
	}
	who, err := c.WhoAmI(ctx)
	if err != nil {
		return userEmailMap{}
	}
	return userEmailMap{who.User.ID: who.User.Email}
}

// id returns the id of the user with this e-mail (case does not matter), or "".
func (m userEmailMap) id(email string) string {
	for id, e := range m {
		if strings.EqualFold(e, email) {
			return id
		}
	}
	return ""
}

// label returns the user's e-mail, or the id when it is not known.
func (m userEmailMap) label(id string) string {
	if e := m[id]; e != "" {
		return e
	}
	return id
}
