package auth

import (
	"flag"
	"os"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The denylist is generated from the rules below, written by hand for smartx: the passwords
// people reach for first, the words of this trade, and what they become with the usual
// decorations. `go test ./internal/auth -run TestDenylist -update` rewrites denylist.txt.

// classicPasswords are the perennial favourites of leaked-password statistics.
var classicPasswords = strings.Fields(`
123456 password 12345678 qwerty 123456789 12345 1234 111111 1234567 dragon 123123 baseball
abc123 football monkey letmein shadow master 666666 qwertyuiop 123321 mustang 1234567890
michael 654321 superman 1qaz2wsx 7777777 121212 000000 qazwsx 123qwe killer trustno1 jordan
jennifer zxcvbnm asdfgh hunter buster soccer harley batman andrew tigger sunshine iloveyou
charlie robert thomas hockey ranger daniel starwars klaster 112233 george computer michelle
jessica pepper 1111 zxcvbn 555555 11111111 131313 freedom 777777 pass maggie 159753 aaaaaa
ginger princess joshua cheese amanda summer love ashley nicole chelsea biteme matthew access
yankees 987654321 dallas austin thunder taylor matrix minecraft welcome admin login passw0rd
hello whatever qwerty123 secret azerty changeme password1 password123 welcome1 admin123
letmein123 iloveyou1 abc12345 qwe123 1q2w3e4r 1q2w3e4r5t zaq12wsx q1w2e3r4t5y6 1qazxsw2
pokemon naruto liverpool arsenal chocolate butterfly purple jordan23 babygirl lovely angel
friends flower samsung apple google facebook linkedin twitter instagram youtube netflix
motdepasse soleil bonjour doudou loulou marseille chouchou nicolas julien camille
passwort hallo schatz fussball ficken schalke bayern lovelove 696969 lakers eagles
qwertz asdfghjkl zxcvbnm123 mynoob 1234qwer qwer1234 q1w2e3r4 1a2b3c4d a1b2c3d4 aa123456
test test123 testing guest default root toor administrator user demo sample temp temp123
`)

// baseWords are words people build passwords from: everyday words, names of seasons, days
// and months, and the vocabulary of energy metering and of this service.
var baseWords = strings.Fields(`
password passw0rd passwd welcome letmein iloveyou sunshine princess dragon monkey shadow master
football baseball soccer hockey basketball superman batman spiderman starwars pokemon
computer internet company business office secret private changeme default administrator
admin root user guest login access system server network security manager support service
summer winter spring autumn january february march april may june july august september
october november december monday tuesday wednesday thursday friday saturday sunday
energy electricity electric power meter metering measure building buildings watt kilowatt
voltage current ampere installer install analyst reading readings device devices sensor
platform cloud upload firmware encrypt token report dashboard customer client partner
smart impulse smartimpulse smartx paris london berlin france england germany europe
hello goodbye family friends freedom forever together happiness beautiful chocolate
butterfly flower garden coffee banana orange purple yellow silver golden diamond crystal
thunder lightning tiger lion eagle falcon wolf bear panther phoenix dolphin
michael jennifer jessica thomas daniel nicolas julien camille sophie marie pierre
qwerty azerty qwertz qwertyuiop azertyuiop asdfghjkl zxcvbnm
`)

// keyboardWalks are runs along a keyboard, in their usual lengths.
var keyboardWalks = strings.Fields(`
qwertyuiop qwertyuiop[] qwertyuiopasdfghjkl asdfghjkl asdfghjkl; zxcvbnm zxcvbnm,./
azertyuiop azertyuiopqsdfghjklm qsdfghjklm wxcvbn qwertzuiop yxcvbnm
1qaz2wsx3edc 1qaz2wsx3edc4rfv zaq12wsx xsw23edc !qaz@wsx#edc qazwsxedc qazwsxedcrfv
1q2w3e4r5t6y 1q2w3e4r5t6y7u8i q1w2e3r4t5y6 q1w2e3r4t5y6u7i8 a1s2d3f4g5h6 z1x2c3v4b5n6
1234qwerasdf 1234qwerasdfzxcv qwerasdfzxcv qweasdzxc qweasdzxc123 poiuytrewq lkjhgfdsa
mnbvcxz 0987654321 1234567890 123456789012 12345678901234 09876543210 0192837465
147258369 159357 1593572468 741852963 963852741 147852369 123698745 qwe123qwe123
1q2w3e 1q2w3e4r5t6y7u8i9o0p !@#$%^&*() !@#$%^&*()_+ 1234567890- 123456789987654321
`)

// wellKnownPhrases are passphrases made famous by comics, films and password advice, which
// crackers try first; they are checked without their spaces.
var wellKnownPhrases = strings.Fields(`
correcthorsebatterystaple thequickbrownfoxjumpsoverthelazydog maytheforcebewithyou
tobeornottobe opensesame iamyourfather allyourbasearebelongtous thecakeisalie
letmeinplease passwordpassword ihavenoidea iloveyouforever itsasecret nobodyknows
supercalifragilisticexpialidocious trustnoone theansweris42 wintercoming winteriscoming
youshallnotpass hakunamatata carpediem neverforget neveragain lifeisgood godisgood
`)

// decorations are what people add to a word to satisfy composition rules.
var decorations = strings.Fields(`
1 12 123 1234 12345 123456 1234567 12345678 ! !! !!! 1! 12! 123! 1234! @ @1 @123 # #1 01 007
69 77 88 99 00 11 2000 2001 2010 2015 2018 2019 2020 2021 2022 2023 2024 2025 2026 2027
`)

func generateDenylist() []string {
	set := map[string]struct{}{}
	add := func(s string) {
		s = strings.ToLower(s)
		if len(s) >= 4 {
			set[s] = struct{}{}
		}
	}
	for _, w := range classicPasswords {
		add(w)
	}
	for _, w := range wellKnownPhrases {
		add(w)
	}
	for _, w := range keyboardWalks {
		add(w)
		add(w + w)
		for _, d := range decorations[:8] {
			add(w + d)
		}
	}
	for _, w := range baseWords {
		add(w)
		add(w + w)
		add("my" + w)
		add("the" + w)
		add("i love " + w)
		add("ilove" + w)
		for _, d := range decorations {
			add(w + d)
		}
		for _, v := range baseWords[:12] {
			if v != w {
				add(w + v)
			}
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func TestDenylistFileIsGenerated(t *testing.T) {
	want := "# Common passwords refused by smartx, one per line, lower case.\n" +
		"# Generated by TestDenylistFileIsGenerated in denylist_test.go: edit the rules there, then\n" +
		"# run `go test ./internal/auth -run TestDenylist -update`.\n" +
		strings.Join(generateDenylist(), "\n") + "\n"
	if *update {
		if err := os.WriteFile("denylist.txt", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("denylist.txt")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatal("denylist.txt is out of date with its rules: run go test ./internal/auth -run TestDenylist -update")
	}
	if n := NewPasswordPolicy().DenylistSize(); n < 2000 {
		t.Fatalf("denylist holds %d passwords, want a few thousand", n)
	}
}
