import{a as w,c as E,d as T,e as P,f as x}from"./chunk-CG4PBVOR.js";import{m as h,n as m,o as f}from"./chunk-MQGFLDYS.js";import"./chunk-NQ4XSO66.js";import{D as k,E as S,q as y}from"./chunk-UTWLNMSM.js";import{a as u,b as i}from"./chunk-RQ55UI6M.js";var g=class{constructor(t,n,r=()=>{}){this.out=t;this.state=n;this.onMessage=r}out;state;onMessage;ws=null;seq=0;current="";playing=Promise.resolve();async run(t,n=!1){let r=await this.socket();this.current=`r${++this.seq}`,this.playing=Promise.resolve(),this.out.replaceChildren(),this.out.dataset.state="running",this.state(!0),r.send(JSON.stringify({Id:this.current,Kind:"run",Body:t,...n?{RealTime:!0}:{}}))}kill(){this.current&&(this.ws?.readyState===WebSocket.OPEN&&this.ws.send(JSON.stringify({Id:this.current,Kind:"kill"})),this.out.dataset.state==="running"&&(this.current="",this.append("end",`
Program killed.
`),this.finish()))}finish(){this.out.dataset.state="done",this.state(!1)}show(t){let n=t.Id;this.playing=this.playing.then(async()=>{let r=(t.Delay??0)/1e6;r>=1&&await new Promise(a=>setTimeout(a,r)),n===this.current&&(this.onMessage(t.Kind,t.Body),t.Kind==="stdout"||t.Kind==="stderr"?this.append(t.Kind,t.Body):t.Kind==="end"&&(this.append("end",t.Body?`
${t.Body}
`:`
Program exited.
`),this.finish()))})}append(t,n){this.out.append(u("span",t,n)),this.out.scrollTop=this.out.scrollHeight}async socket(){if(this.ws?.readyState===WebSocket.OPEN)return this.ws;let t=location.protocol==="https:"?"wss:":"ws:",n=new WebSocket(`${t}//${location.host}/play/ws`);return await new Promise((r,a)=>{n.addEventListener("open",()=>r(),{once:!0}),n.addEventListener("error",()=>a(new Error("cannot connect to the run service")),{once:!0})}),n.addEventListener("message",r=>{let a=JSON.parse(String(r.data));a.Id===this.current&&this.show(a)}),n.addEventListener("close",()=>{this.ws===n&&(this.ws=null),this.out.dataset.state==="running"&&(this.append("end",`
Connection to the run service lost.
`),this.finish())}),this.ws=n,n}};var L=`// Hello: the smallest program. Run it, then change the greeting.
package main

import "fmt"

func main() {
	fmt.Println("Hello, 世界")
}
`;var $=`// A test: a file without func main whose Test functions run as
// "go test -v" does. Break Reverse to see a failure.
package main

import "testing"

// Reverse returns s with its runes in reverse order.
func Reverse(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

func TestReverse(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"abc", "cba"},
		{"Hello, 世界", "界世 ,olleH"},
	} {
		if got := Reverse(c.in); got != c.want {
			t.Errorf("Reverse(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
`;var j=`// Goroutines and channels: three workers take jobs from one channel and
// send results on another. The sleeps run on fake time: the output
// replays with their delays, and the run takes no longer than its work.
package main

import (
	"fmt"
	"sync"
	"time"
)

func worker(id int, jobs <-chan int, results chan<- string, wg *sync.WaitGroup) {
	defer wg.Done()
	for j := range jobs {
		time.Sleep(time.Duration(j) * 100 * time.Millisecond)
		results <- fmt.Sprintf("worker %d finished job %d", id, j)
	}
}

func main() {
	jobs := make(chan int)
	results := make(chan string)
	var wg sync.WaitGroup
	for id := 1; id <= 3; id++ {
		wg.Add(1)
		go worker(id, jobs, results, &wg)
	}
	go func() {
		for j := 1; j <= 6; j++ {
			jobs <- j
		}
		close(jobs)
	}()
	go func() {
		wg.Wait()
		close(results)
	}()
	for r := range results {
		fmt.Println(r)
	}
	fmt.Println("all done")
}
`;var H=`// A web server and its test: the handler is tested through
// net/http/httptest, without a network.
package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// hello greets the name in the query, or the world.
func hello(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		name = "world"
	}
	fmt.Fprintf(w, "Hello, %s!", name)
}

func TestHello(t *testing.T) {
	for query, want := range map[string]string{"": "Hello, world!", "?name=Gopher": "Hello, Gopher!"} {
		rec := httptest.NewRecorder()
		hello(rec, httptest.NewRequest("GET", "/"+query, nil))
		body, _ := io.ReadAll(rec.Result().Body)
		if rec.Code != http.StatusOK || string(body) != want {
			t.Errorf("GET /%s = %d %q, want 200 %q", query, rec.Code, body, want)
		}
	}
}
`;var R=`// Generics: functions and a type with type parameters, and a
// constraint that lists the types it allows.
package main

import "fmt"

// Number is the constraint of Sum.
type Number interface {
	~int | ~int64 | ~float64
}

// Sum adds up the values of a slice of any Number type.
func Sum[T Number](values []T) T {
	var total T
	for _, v := range values {
		total += v
	}
	return total
}

// Map returns f of each element of s.
func Map[T, U any](s []T, f func(T) U) []U {
	out := make([]U, 0, len(s))
	for _, v := range s {
		out = append(out, f(v))
	}
	return out
}

// Stack is a last-in, first-out stack of any element type.
type Stack[T any] struct{ items []T }

func (s *Stack[T]) Push(v T) { s.items = append(s.items, v) }

func (s *Stack[T]) Pop() (T, bool) {
	var zero T
	if len(s.items) == 0 {
		return zero, false
	}
	v := s.items[len(s.items)-1]
	s.items = s.items[:len(s.items)-1]
	return v, true
}

func main() {
	fmt.Println(Sum([]int{1, 2, 3}), Sum([]float64{1.5, 2.5}))
	fmt.Println(Map([]int{1, 2, 3}, func(i int) string { return fmt.Sprint(i * i) }))
	var s Stack[string]
	s.Push("a")
	s.Push("b")
	v, _ := s.Pop()
	fmt.Println("popped", v)
}
`;var M=`// A third-party module: the server finds the latest version of
// golang.org/x/example, fetches it with its checksum verified, and the
// build reads it from the server's module cache. Add a go.mod section
// ("-- go.mod --") with a require line to pin a version.
package main

import (
	"fmt"

	"golang.org/x/example/hello/reverse"
)

func main() {
	fmt.Println(reverse.String("Hello, modules!"))
}
`;var b=[{title:"Hello, World!",body:L},{title:"Tests",body:$},{title:"Goroutines and channels",body:j},{title:"Web server and its test",body:H},{title:"Generics",body:R},{title:"A third-party module",body:M}];var A=`package main

import "fmt"

func main() {
	fmt.Println("Hello, ideserver!")
}
`,C=0;function c(o){let t=i("page-message");t.textContent=o,clearTimeout(C),C=window.setTimeout(()=>{t.textContent=""},8e3)}var v=class{files=[];add(t,n,r,a){let s=u("div","editor");s.dataset.file=t;let d=new k({parent:s,state:y.create({doc:n,extensions:[S.of([{key:"Mod-Enter",preventDefault:!0,run:()=>(a(),!0)}]),P,...t.endsWith(".go")?[x()]:[],y.readOnly.of(r),k.editable.of(!r)]})}),e=u("div","tab",t);e.dataset.file=t,e.setAttribute("role","tab");let l={name:t,view:d,tab:e};return e.addEventListener("click",()=>this.show(t)),this.files.push(l),i("page-tabs").append(e),i("page-editors").append(s),l}show(t){let n=this.files.find(r=>r.name===t);if(!n)throw new Error(`no file ${t}`);for(let r of this.files)r.tab.classList.toggle("active",r===n),r.view.dom.parentElement.hidden=r!==n;n.view.requestMeasure()}body(){return this.files.length===1?this.files[0].view.state.doc.toString():this.files.map(t=>{let n=t.view.state.doc.toString();return`-- ${t.name} --
${n}${n.endsWith(`
`)?"":`
`}`}).join("")}};function W(o,t,n){document.title=`${o} — ideserver`,i("page-title").textContent=o,i("status").hidden=!0,i("page").hidden=!1;let r=i("run"),a=i("kill"),s=new g(i("output"),e=>{a.disabled=!e},(e,l)=>E({type:"output",kind:e,body:l})),d=async()=>{try{await s.run(t.body(),i("real-time").checked)}catch(e){c(e instanceof Error?e.message:String(e))}};return r.addEventListener("click",()=>{d()}),a.addEventListener("click",()=>s.kill()),T(n,{run:d,open:e=>t.show(e)},e=>c(`Ignored a message from ${e}.`)),s}async function ht(o){let t;try{t=await f("GET",`/api/v1/shares/${encodeURIComponent(o)}`)}catch(s){i("status").textContent=s instanceof h&&s.status===404?"No such share: it may have expired or been revoked.":`Cannot load the share: ${s.message}`;return}let n=new v,r=Object.keys(t.files).sort((s,d)=>B(s)-B(d)||s.localeCompare(d));for(let s of r)n.add(s,t.files[s],!0,()=>i("run").click());W(`${t.name||"Shared snapshot"} (read-only)`,n,"share"),r.length?n.show(r.includes("main.go")?"main.go":r[0]):i("page-editors").append(u("p","empty","This snapshot has no files."));let a=i("fork");a.hidden=w,a.addEventListener("click",async()=>{try{await f("GET","/api/v1/me")}catch(s){if(s instanceof h&&s.status===401){c("Sign in to fork: open the URL that ideserver printed when it started (or ask for a token), then come back to this link.");return}c(s.message);return}try{let s=await f("POST",`/api/v1/shares/${encodeURIComponent(o)}/fork`);location.href=`/?ws=${encodeURIComponent(s.id)}`}catch(s){c(`Cannot fork: ${s.message}`)}})}function B(o){return o==="main.go"?0:o.endsWith(".go")?1:o==="go.mod"?2:3}async function mt(o){let t=A;if(o)try{t=await(await m(`/p/${encodeURIComponent(o)}.go`)).text()}catch(e){i("status").textContent=e instanceof h&&e.status===404?"No such snippet.":`Cannot load the snippet: ${e.message}`;return}let n=new v,r=n.add("prog.go",t,!1,()=>i("run").click());W(o?`Snippet ${o}`:"Playground",n,"play"),n.show("prog.go"),i("page-tabs").hidden=!0;let a=i("fmt"),s=i("share-snippet");a.hidden=!1,s.hidden=!1;let d=i("examples");d.append(...b.map((e,l)=>{let p=u("option","",e.title);return p.value=String(l),p})),d.hidden=!1,d.addEventListener("change",()=>{let e=b[Number(d.value)];d.value="",e&&(r.view.dispatch({changes:{from:0,to:r.view.state.doc.length,insert:e.body}}),i("output").replaceChildren(),c(`Example: ${e.title}.`))}),a.addEventListener("click",async()=>{try{let e=new URLSearchParams({body:r.view.state.doc.toString(),imports:"true"}),l=await(await m("/fmt",{method:"POST",body:e})).json();if(l.Error){i("output").replaceChildren(u("span","stderr",l.Error));return}l.Body!==r.view.state.doc.toString()&&r.view.dispatch({changes:{from:0,to:r.view.state.doc.length,insert:l.Body}}),c("Formatted.")}catch(e){c(`Cannot format: ${e.message}`)}}),s.addEventListener("click",async()=>{try{let e=(await(await m("/share",{method:"POST",body:r.view.state.doc.toString()})).text()).trim(),l=`${location.origin}/p/${e}`,p=i("snippet-url");p.value=l,p.hidden=!1,p.select(),w||history.replaceState(null,"",`/p/${e}`),await navigator.clipboard?.writeText(l).then(()=>c("Link copied."),()=>c("Link created."))}catch(e){c(`Cannot share: ${e.message}`)}})}export{mt as openPlay,ht as openShare};
