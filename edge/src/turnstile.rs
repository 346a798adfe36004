//! One at a time, first come first served, for an object's steps that await another object.
//!
//! A Durable Object takes its next event while it awaits a call to another object, so two visitor
//! messages sent back to back could pass an awaited check in either order. Messages go through
//! the turnstile from that check until they are stored, so they are stored in the order they
//! arrived. A waiter that is given up (its request cancelled) leaves the line, or passes the turn
//! on if it had already been called, so the line never stalls.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

#[derive(Default, Debug)]
pub struct Turnstile {
    busy: Cell<bool>,
    waiting: RefCell<VecDeque<Rc<Ticket>>>,
}

#[derive(Default, Debug)]
struct Ticket {
    called: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

/// The turn; the next in line gets it when this is dropped.
#[derive(Debug)]
pub struct Turn<'a> {
    turnstile: &'a Turnstile,
}

impl Turnstile {
    /// Waits for the turn: at once if nobody has it, else after everyone who came before.
    pub fn enter(&self) -> Enter<'_> {
        let ticket = if self.busy.replace(true) {
            let ticket = Rc::new(Ticket::default());
            self.waiting.borrow_mut().push_back(Rc::clone(&ticket));
            Some(ticket)
        } else {
            None
        };
        Enter {
            turnstile: self,
            ticket,
            done: false,
        }
    }

    /// Hands the turn to the next in line, or frees it.
    fn pass(&self) {
        let next = self.waiting.borrow_mut().pop_front();
        match next {
            Some(ticket) => {
                ticket.called.set(true);
                if let Some(waker) = ticket.waker.borrow_mut().take() {
                    waker.wake();
                }
            }
            None => self.busy.set(false),
        }
    }

    /// How many wait for the turn.
    pub fn waiting(&self) -> usize {
        self.waiting.borrow().len()
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.turnstile.pass();
    }
}

/// The future [`Turnstile::enter`] returns.
#[derive(Debug)]
pub struct Enter<'a> {
    turnstile: &'a Turnstile,
    ticket: Option<Rc<Ticket>>,
    done: bool,
}

impl<'a> Future for Enter<'a> {
    type Output = Turn<'a>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Turn<'a>> {
        let called = self.ticket.as_ref().is_none_or(|ticket| ticket.called.get());
        if called {
            self.done = true;
            return Poll::Ready(Turn {
                turnstile: self.turnstile,
            });
        }
        if let Some(ticket) = &self.ticket {
            *ticket.waker.borrow_mut() = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl Drop for Enter<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        match &self.ticket {
            // Given the turn (or called) but gone before taking it: pass it on.
            None => self.turnstile.pass(),
            Some(ticket) if ticket.called.get() => self.turnstile.pass(),
            Some(ticket) => self
                .turnstile
                .waiting
                .borrow_mut()
                .retain(|other| !Rc::ptr_eq(other, ticket)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll<F: Future>(future: &mut Pin<Box<F>>) -> Poll<F::Output> {
        future.as_mut().poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn turns_come_in_the_order_asked() {
        let gate = Turnstile::default();
        let mut first = Box::pin(gate.enter());
        let mut second = Box::pin(gate.enter());
        let mut third = Box::pin(gate.enter());
        let Poll::Ready(turn) = poll(&mut first) else {
            panic!("the first is let in at once")
        };
        assert!(poll(&mut third).is_pending() && poll(&mut second).is_pending());
        drop(turn);
        assert!(poll(&mut third).is_pending(), "the third waits for the second");
        let Poll::Ready(turn) = poll(&mut second) else {
            panic!("the second is next")
        };
        drop(turn);
        let Poll::Ready(turn) = poll(&mut third) else {
            panic!("then the third")
        };
        drop(turn);
        let Poll::Ready(_) = poll(&mut Box::pin(gate.enter())) else {
            panic!("free again")
        };
    }

    #[test]
    fn a_waiter_given_up_never_stalls_the_line() {
        let gate = Turnstile::default();
        let turn = gate.enter();
        let turn = match poll(&mut Box::pin(turn)) {
            Poll::Ready(turn) => turn,
            Poll::Pending => panic!("free"),
        };
        let leaving = Box::pin(gate.enter());
        let mut staying = Box::pin(gate.enter());
        assert_eq!(gate.waiting(), 2);
        drop(leaving);
        assert_eq!(gate.waiting(), 1);
        drop(turn);
        assert!(poll(&mut staying).is_ready());

        // Called, but gone before it took the turn: the next one gets it.
        let gate = Turnstile::default();
        let mut holder = Box::pin(gate.enter());
        let Poll::Ready(turn) = poll(&mut holder) else {
            panic!("free")
        };
        let called = Box::pin(gate.enter());
        let mut after = Box::pin(gate.enter());
        drop(turn);
        drop(called);
        assert!(poll(&mut after).is_ready());
    }
}
